/* ports.c — loopback ports for the cluster's daemons.
 *
 * Ports are picked by binding 127.0.0.1:0 and reading what the kernel chose.
 * All sockets of one pick stay open until every port is read, so the ports
 * of one call are distinct; they are closed before the daemons start, so
 * another process may take one in between.  daemons.c handles that race by
 * starting over with new ports (Spark runs with spark.port.maxRetries=0, so
 * it fails instead of silently moving to the next port).
 */
#include "engines/local/local.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static struct sockaddr_in loopback(int port)
{
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

int sf_local_pick_ports(int *ports, size_t n, char **err)
{
    int *fds = calloc(n ? n : 1, sizeof *fds);
    if (!fds) abort();
    size_t open_n = 0;
    int rc = 0;
    for (; open_n < n; open_n++) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in a = loopback(0);
        socklen_t len = sizeof a;
        if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
            getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
            *err = sf_fmt("cannot pick a free port on 127.0.0.1: %s", strerror(errno));
            if (fd >= 0) close(fd);
            rc = -1;
            break;
        }
        fds[open_n] = fd;
        ports[open_n] = ntohs(a.sin_port);
    }
    for (size_t i = 0; i < open_n; i++) close(fds[i]);
    free(fds);
    return rc;
}

bool sf_local_port_open(int port)
{
    if (port <= 0) return false;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    struct sockaddr_in a = loopback(port);
    bool open = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return open;
}
