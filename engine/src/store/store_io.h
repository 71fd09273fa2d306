/*
 * store_io.h - the store's I/O calls, through one table so that tests can
 * inject failures (ENOSPC, EIO, short writes, failing fsync) at any call.
 * The default table is the plain system calls. Not thread-safe to swap while
 * a store is in use: tests set it before opening.
 */
#ifndef DDX_STORE_IO_H
#define DDX_STORE_IO_H

#include <stddef.h>
#include <sys/types.h>

typedef struct ddx_io {
    int (*open)(const char *path, int flags, mode_t mode);
    ssize_t (*pread)(int fd, void *p, size_t n, off_t off);
    ssize_t (*pwrite)(int fd, const void *p, size_t n, off_t off);
    int (*fdatasync)(int fd);
    int (*fsync)(int fd);
    int (*ftruncate)(int fd, off_t len);
    int (*rename)(const char *from, const char *to);
    int (*unlink)(const char *path);
} ddx_io;

/* The table in use (never NULL); ddx_io_set(NULL) restores the default. */
const ddx_io *ddx_io_get(void);
void ddx_io_set(const ddx_io *io);

/* Whole-buffer helpers over the table: retry short transfers and EINTR.
 * Return 0 or an errno value; a read that hits end of file returns EIO
 * (the caller asked for bytes the file must have). */
int ddx_io_pwrite_all(int fd, const void *p, size_t n, off_t off);
int ddx_io_pread_all(int fd, void *p, size_t n, off_t off);
/* fsync a directory, so that files created or removed in it persist. */
int ddx_io_fsync_dir(const char *dir);

#endif
