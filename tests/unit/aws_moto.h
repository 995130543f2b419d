/* aws_moto.h — a moto server on loopback for the AWS unit tests.
 *
 * Starts `python -m moto.server` (the project's .venv Python, or
 * $SF_MOTO_PYTHON) on a free 127.0.0.1 port and stops it at the end.  Tests
 * call aws_moto_start() in a group setup and skip when it returns -1 (no
 * moto installed): the suites need no network beyond loopback.
 */
#ifndef SF_TEST_AWS_MOTO_H
#define SF_TEST_AWS_MOTO_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

typedef struct aws_moto {
    pid_t pid;
    int port;
    char url[64];
} aws_moto;

static int aws_moto_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        if (fd >= 0) close(fd);
        return -1;
    }
    close(fd);
    return ntohs(a.sin_port);
}

static int aws_moto_port_open(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    if (fd >= 0) close(fd);
    return ok;
}

static void aws_moto_python(char *out, size_t cap)
{
    const char *p = getenv("SF_MOTO_PYTHON");
    const char *src = getenv("SF_SOURCE_DIR");
    if (p && *p) snprintf(out, cap, "%s", p);
    else snprintf(out, cap, "%s/.venv/bin/python", src && *src ? src : ".");
}

/* 0 with the server answering, -1 when moto cannot be started. */
static int aws_moto_start(aws_moto *m)
{
    char python[512];
    aws_moto_python(python, sizeof python);
    if (access(python, X_OK) != 0) return -1;
    char check[600];
    snprintf(check, sizeof check, "'%s' -c 'import moto.server' >/dev/null 2>&1", python);
    if (system(check) != 0) return -1;
    m->port = aws_moto_free_port();
    if (m->port < 0) return -1;
    char port[16];
    snprintf(port, sizeof port, "%d", m->port);
    char *argv[] = {python, "-m", "moto.server", "-H", "127.0.0.1", "-p", port, NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", 1, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", 1, 0);
    int rc = posix_spawn(&m->pid, python, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) return -1;
    for (int i = 0; i < 300; i++) {
        if (aws_moto_port_open(m->port)) {
            snprintf(m->url, sizeof m->url, "http://127.0.0.1:%d", m->port);
            return 0;
        }
        struct timespec ts = {0, 100 * 1000000};
        nanosleep(&ts, NULL);
    }
    kill(m->pid, SIGKILL);
    waitpid(m->pid, NULL, 0);
    return -1;
}

static void aws_moto_stop(aws_moto *m)
{
    if (m->pid <= 0) return;
    kill(m->pid, SIGTERM);
    waitpid(m->pid, NULL, 0);
    m->pid = 0;
}

#endif
