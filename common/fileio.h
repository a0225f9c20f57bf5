/* SPDX-License-Identifier: MIT */
#pragma once

#include <dirent.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

/*
 * Read everything from fd, at most `cap` bytes. The buffer is NUL-terminated (the NUL is not
 * counted in *ret_len). Returns 0, -EFBIG when there is more than `cap`, -EAGAIN when the fd
 * would block, or another -errno.
 */
int read_fd_capped(int fd, size_t cap, char **ret, size_t *ret_len);
/*
 * The same for a regular file just seen to be `size` bytes long, read from its start: one
 * read() when it still is (no second call to see the end), the general way when it grew.
 */
int read_file_capped(int fd, size_t size, size_t cap, char **ret, size_t *ret_len);

/* write() all of it, retrying on EINTR and short writes. */
int write_all(int fd, const void *data, size_t len);

/*
 * Replace dirfd/name with `data`: write a temporary file, optionally fsync it, rename it over
 * the name, optionally fsync the directory. The file gets `mode` (no umask surprises).
 */
int write_file_atomic(int dirfd, const char *name, const void *data, size_t len, mode_t mode,
		      int durable);
/*
 * The same, the text written by `fill` straight into the temporary file through a 64 KiB
 * buffer (a large file is never held whole in memory). `fill` returns 0 or -errno.
 */
int write_file_atomic_with(int dirfd, const char *name, mode_t mode, int durable,
			   int (*fill)(FILE *out, void *userdata), void *userdata);

/* readdir() over a directory we hold as a descriptor, without giving that descriptor away. */
DIR *opendir_at(int dirfd);
