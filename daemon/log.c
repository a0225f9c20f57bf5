/* SPDX-License-Identifier: MIT */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

#define JOURNAL_SOCKET "/run/systemd/journal/socket"
#define MAX_FIELDS 16

static int max_level = LOG_INFO;
static bool journal_ok;
static bool stderr_is_journal;

int log_journal_reachable(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX, .sun_path = JOURNAL_SOCKET };
	int fd, r;

	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	r = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ? -errno : 0;
	close(fd);
	return r;
}

/* systemd sets JOURNAL_STREAM=DEV:INODE when stderr is connected to the journal. */
static bool stderr_goes_to_journal(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	/* NOLINTNEXTLINE(cert-err34-c): systemd's format; the values need only equal fstat()'s */
	if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2 || fstat(STDERR_FILENO, &st) < 0)
		return false;
	return st.st_dev == dev && st.st_ino == ino;
}

void log_open(void)
{
	journal_ok = log_journal_reachable() == 0;
	stderr_is_journal = stderr_goes_to_journal();
}

void log_set_max_level(int level)
{
	max_level = level;
}

static void write_stderr(int level, const char *msg)
{
	/* One write per line, so lines of concurrent writers do not interleave. */
	char line[2048];
	int n = snprintf(line, sizeof(line), "<%d>%s\n", level, msg);

	if (n > (int)sizeof(line) - 1) {
		n = (int)sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	if (write(STDERR_FILENO, line, (size_t)n) < 0) {
		/* nowhere left to complain */
	}
}

int log_internal(int level, int error, const char *fmt, ...)
{
	char msg[1536];
	va_list ap;
	int saved = errno;

	if (level > max_level) {
		errno = saved;
		return error;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (error) {
		size_t len = strlen(msg);
		snprintf(msg + len, sizeof(msg) - len, ": %s", strerror(error < 0 ? -error : error));
	}
	write_stderr(level, msg);
	errno = saved;
	return error;
}

void log_event(int level, const char *message_id, const struct log_field *fields, size_t n_fields,
	       const char *fmt, ...)
{
	char msg[1536], *items[MAX_FIELDS + 4];
	struct iovec iov[MAX_FIELDS + 4];
	size_t n = 0;
	va_list ap;
	int r;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);

	if (!journal_ok || !stderr_is_journal)
		write_stderr(level, msg);
	if (!journal_ok)
		return;

	/* fields are as long as they are: journald takes them whole (no fixed-size buffers) */
#define ADD(...)                                                      \
	do {                                                          \
		if (asprintf(&items[n], __VA_ARGS__) >= 0) {          \
			iov[n].iov_base = items[n];                   \
			iov[n].iov_len = strlen(items[n]);            \
			n++;                                          \
		}                                                     \
	} while (0)

	ADD("MESSAGE=%s", msg);
	ADD("MESSAGE_ID=%s", message_id);
	ADD("PRIORITY=%d", level);
	ADD("SYSLOG_IDENTIFIER=natwardend");
	for (size_t i = 0; i < n_fields && i < MAX_FIELDS; i++)
		if (fields[i].value)
			ADD("NATWARDEN_%s=%s", fields[i].name, fields[i].value);
#undef ADD
	r = sd_journal_sendv(iov, (int)n);
	for (size_t i = 0; i < n; i++)
		free(items[i]);
	if (r < 0) {
		/* journald went away: keep the event on stderr and stop trying */
		journal_ok = false;
		if (stderr_is_journal)
			write_stderr(level, msg);
	}
}
