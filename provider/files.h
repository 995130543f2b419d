/* files.h — the few file-system chores every part of the provider needs:
 * make a directory path, read a whole (small) file. */
#ifndef SF_FILES_H
#define SF_FILES_H

/* mkdir -p `path` (mode 0755 for what it makes).  Returns 0, or -1 with
 * errno set. */
int sf_file_mkdirs(const char *path);

/* The whole file, NUL-terminated (malloc'd), or NULL with errno set. */
char *sf_file_read(const char *path);

#endif
