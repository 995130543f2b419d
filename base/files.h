/* files.h — the file-system chores every layer needs: make a directory path,
 * read a whole (small) file, and replace a file atomically and durably. */
#ifndef SF_BASE_FILES_H
#define SF_BASE_FILES_H

#include <stddef.h>
#include <sys/types.h>

/* mkdir -p `path` (mode 0755 for what it makes, before the umask), following
 * symlinks.  Returns 0 once path is a directory, or -1 with errno set
 * (ENOTDIR when something else is there). */
int sf_file_mkdirs(const char *path);
/* The same with the mode of what it makes (e.g. 0700 for private state). */
int sf_file_mkdirs_mode(const char *path, mode_t mode);

/* The whole file, NUL-terminated (malloc'd), or NULL with errno set. */
char *sf_file_read(const char *path);
/* The same, with its length in *len (the file may hold NUL bytes). */
char *sf_file_read_len(const char *path, size_t *len);

/* Replace `path` with `data` atomically and durably: a temp file in the same
 * directory (created with `mode`, before the umask), every byte written,
 * fsync, rename over path, fsync of the directory.  Readers see the old or
 * the new file, never a mix; after 0 the new one survives a crash.  Returns
 * 0, or -1 with errno (the temp file is removed). */
int sf_file_write_atomic(const char *path, const void *data, size_t len, mode_t mode);

/* fsync a directory (after creating, renaming or removing entries in it).
 * Filesystems that cannot sync directories (EINVAL) count as success.
 * Returns 0, or -1 with errno. */
int sf_file_fsync_dir(const char *dir);

#endif
