/* SPDX-License-Identifier: MIT */
#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "macro.h"

int read_fd_capped(int fd, size_t cap, char **ret, size_t *ret_len)
{
	_cleanup_free_ char *buf = NULL;
	size_t len = 0, size = 0;

	for (;;) {
		if (size - len < 2) {
			size_t want = size ? size * 2 : 4096;
			if (want > cap + 2)
				want = cap + 2;
			if (want <= size)
				return -EFBIG;
			char *grown = realloc(buf, want);
			if (!grown)
				return -ENOMEM;
			buf = grown;
			size = want;
		}
		/* Ask for one byte beyond the cap, so "exactly cap" and "more" can be told apart. */
		ssize_t n = read(fd, buf + len, size - 1 - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > cap)
			return -EFBIG;
	}
	buf[len] = '\0';
	*ret = steal_pointer(&buf);
	*ret_len = len;
	return 0;
}

int read_file_capped(int fd, size_t size, size_t cap, char **ret, size_t *ret_len)
{
	char *buf;
	ssize_t n;

	if (size >= cap)
		return read_fd_capped(fd, cap, ret, ret_len);
	buf = malloc(size + 2);
	if (!buf)
		return -ENOMEM;
	do
		n = read(fd, buf, size + 1);
	while (n < 0 && errno == EINTR);
	if (n >= 0 && (size_t)n <= size) {
		/* short of what was asked: the end of the file */
		buf[n] = '\0';
		*ret = buf;
		*ret_len = (size_t)n;
		return 0;
	}
	free(buf);
	if (n < 0)
		return -errno;
	/* it grew since it was looked at: the general way, from the start */
	if (lseek(fd, 0, SEEK_SET) < 0)
		return -errno;
	return read_fd_capped(fd, cap, ret, ret_len);
}

int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int write_file_atomic_with(int dirfd, const char *name, mode_t mode, int durable,
			   int (*fill)(FILE *out, void *userdata), void *userdata)
{
	char tmp[300];
	FILE *out = NULL;
	int fd, r;

	r = snprintf(tmp, sizeof(tmp), ".%s.tmp", name);
	if (r < 0 || (size_t)r >= sizeof(tmp))
		return -ENAMETOOLONG;
	/*
	 * A new file, never one found there: whatever another writer of the directory left at
	 * the temporary name (a FIFO would block the open, a symlink redirect it) is removed
	 * first, and one put back in between makes the open fail instead of block or follow.
	 */
	(void)unlinkat(dirfd, tmp, 0);
	fd = openat(dirfd, tmp,
		    O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK,
		    mode);
	if (fd < 0)
		return -errno;
	if (fchmod(fd, mode) < 0 || !(out = fdopen(fd, "w"))) {
		r = -errno;
		close(fd);
		goto fail;
	}
	(void)setvbuf(out, NULL, _IOFBF, 65536);
	r = fill(out, userdata);
	if (fflush(out) != 0 && r == 0)
		r = errno ? -errno : -EIO;
	if (r == 0 && durable && fsync(fd) < 0)
		r = -errno;
	if (fclose(out) != 0 && r == 0)
		r = errno ? -errno : -EIO;
	if (r < 0)
		goto fail;
	if (renameat(dirfd, tmp, dirfd, name) < 0) {
		r = -errno;
		goto fail;
	}
	if (durable && fsync(dirfd) < 0)
		return -errno;
	return 0;
fail:
	unlinkat(dirfd, tmp, 0);
	return r;
}

struct bytes {
	const void *data;
	size_t len;
};

static int fill_bytes(FILE *out, void *userdata)
{
	const struct bytes *b = userdata;

	if (b->len && fwrite(b->data, 1, b->len, out) != b->len)
		return errno ? -errno : -EIO;
	return 0;
}

int write_file_atomic(int dirfd, const char *name, const void *data, size_t len, mode_t mode,
		      int durable)
{
	struct bytes b = { data, len };

	return write_file_atomic_with(dirfd, name, mode, durable, fill_bytes, &b);
}

DIR *opendir_at(int dirfd)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d;

	if (fd < 0)
		return NULL;
	d = fdopendir(fd);
	if (!d) {
		int saved = errno;
		close(fd);
		errno = saved;
	}
	return d;
}
