/*
 * store_io.c - the default I/O table (system calls) and whole-buffer helpers.
 */
#include "store_io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

static int sys_open(const char *path, int flags, mode_t mode)
{
    return open(path, flags, mode);
}

static const ddx_io sys_io = {sys_open, pread, pwrite, fdatasync, fsync, ftruncate, rename, unlink};
static const ddx_io *cur = &sys_io;

const ddx_io *ddx_io_get(void)
{
    return cur;
}

void ddx_io_set(const ddx_io *io)
{
    cur = io ? io : &sys_io;
}

int ddx_io_pwrite_all(int fd, const void *p, size_t n, off_t off)
{
    const char *c = p;
    while (n) {
        ssize_t w = cur->pwrite(fd, c, n, off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return errno ? errno : EIO;
        }
        if (w == 0)
            return ENOSPC; /* no progress: treat as a full device */
        c += w;
        n -= (size_t)w;
        off += w;
    }
    return 0;
}

int ddx_io_pread_all(int fd, void *p, size_t n, off_t off)
{
    char *c = p;
    while (n) {
        ssize_t r = cur->pread(fd, c, n, off);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return errno ? errno : EIO;
        }
        if (r == 0)
            return EIO;
        c += r;
        n -= (size_t)r;
        off += r;
    }
    return 0;
}

int ddx_io_fsync_dir(const char *dir)
{
    int fd = cur->open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
    if (fd < 0)
        return errno;
    int rc = cur->fsync(fd) ? errno : 0;
    close(fd);
    return rc;
}
