/* SPDX-License-Identifier: MIT */
/* write_file_atomic: what another writer of the directory may leave at its temporary name. */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "tap.h"

static char *slurp(int dir, const char *name)
{
	static char buf[256];
	int fd = openat(dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

int main(void)
{
	char path[] = "/tmp/natwarden-test-fileio-XXXXXX";
	int dir;

	if (!mkdtemp(path) || (dir = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return 1;
	alarm(20); /* a blocked open would hang the test: let it die instead */

	ok(mkfifoat(dir, ".f.prom.tmp", 0666) == 0, "a FIFO at the temporary name");
	is_int(write_file_atomic(dir, "f.prom", "one\n", 4, 0644, 0), 0,
	       "the write neither blocks on it nor fails");
	is_str(slurp(dir, "f.prom"), "one\n", "the file holds what was written");

	ok(symlinkat("victim", dir, ".g.prom.tmp") == 0, "a symlink at the temporary name");
	ok(mknodat(dir, "victim", S_IFREG | 0644, 0) == 0, "... pointing at another file");
	is_int(write_file_atomic(dir, "g.prom", "two\n", 4, 0644, 0), 0, "the write succeeds");
	is_str(slurp(dir, "g.prom"), "two\n", "the file holds what was written");
	is_str(slurp(dir, "victim"), "", "the symlink's target is untouched");

	struct stat st;
	ok(fstatat(dir, "g.prom", &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
		   (st.st_mode & 07777) == 0644,
	   "a regular file, mode 0644");
	ok(faccessat(dir, ".f.prom.tmp", F_OK, AT_SYMLINK_NOFOLLOW) < 0 &&
		   faccessat(dir, ".g.prom.tmp", F_OK, AT_SYMLINK_NOFOLLOW) < 0,
	   "no temporary file is left");

	unlinkat(dir, "f.prom", 0);
	unlinkat(dir, "g.prom", 0);
	unlinkat(dir, "victim", 0);
	close(dir);
	rmdir(path);
	return tap_done();
}
