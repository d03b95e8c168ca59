#ifndef MR_FDIO_H
#define MR_FDIO_H

#include <stddef.h>

/* Write all of data to fd, going on after short writes and EINTR.
 * 0 on success, -1 with errno set (ENOSPC, EIO, ...). */
int fd_write_all(int fd, const void *data, size_t len);

#endif
