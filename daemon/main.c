/* SPDX-License-Identifier: MIT */
/*
 * natwardend: judges port-forward fragments dropped into the spool against policy.ini and
 * merges the accepted ones atomically into its own nftables table.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"
#include "macro.h"
#include "policy.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: natwardend [--config FILE] [--check | --print-ruleset | --remove]\n"
		"\n"
		"  --config FILE     policy file (default " POLICY_DEFAULT_PATH ")\n"
		"  --check           validate the policy and the saved state, print a summary\n"
		"  --print-ruleset   print the nftables ruleset the saved state would install\n"
		"  --remove          delete the daemon's nftables table (one atomic delete)\n"
		"  --version         print the version\n"
		"\nWithout an action it runs in the foreground until SIGTERM or SIGINT;\n"
		"SIGHUP reloads the policy.\n");
}

/* Report a fatal start-up error to the journal, stderr and systemd, and return the code. */
static int fatal(int r, const char *fmt, ...) _printf_(2, 3);
static int fatal(int r, const char *fmt, ...)
{
	char msg[700];
	char err[16];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(err, sizeof(err), "%d", r < 0 ? -r : r);
	const struct log_field f[] = { { "ERRNO", err } };
	log_event(LOG_CRIT, MID_FATAL, f, ELEMENTSOF(f), "fatal: %s", msg);
	sd_notifyf(0, "STATUS=Failed: %s\nERRNO=%d", msg, r < 0 ? -r : r);
	return EXIT_FAILURE;
}

static int on_term(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
	(void)userdata;
	sd_notify(0, "STOPPING=1\nSTATUS=Stopping; the forwards stay in the kernel");
	log_info("stopping on signal %u; table stays in the kernel", si->ssi_signo);
	return sd_event_exit(sd_event_source_get_event(s), 0);
}

static int on_hup(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
	(void)s;
	(void)si;
	daemon_reload(userdata);
	return 0;
}

static int run_daemon(struct daemon *d)
{
	_cleanup_(sd_event_unrefp) sd_event *event = NULL;
	char why[600];
	sigset_t mask;
	int r;

	r = sd_event_default(&event);
	if (r < 0)
		return fatal(r, "cannot create the event loop");
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	(void)signal(SIGPIPE, SIG_IGN); /* cannot fail with these arguments */

	r = daemon_setup(d, event, why, sizeof(why));
	if (r < 0)
		return fatal(r, "%s", why);
	r = daemon_drop_privileges(d, why, sizeof(why));
	if (r < 0)
		return fatal(r, "cannot drop privileges: %s", why);
	log_open(); /* the journal, as the user we are now */

	if (sd_event_add_signal(event, NULL, SIGTERM, on_term, d) < 0 ||
	    sd_event_add_signal(event, NULL, SIGINT, on_term, d) < 0 ||
	    sd_event_add_signal(event, NULL, SIGHUP, on_hup, d) < 0)
		return fatal(-EINVAL, "cannot set up signal handling");
	r = sd_event_set_watchdog(event, true);
	if (r < 0)
		log_warning_errno(r, "cannot enable the watchdog");

	r = daemon_start(d);
	if (r < 0)
		return fatal(r, "cannot start: see the messages above");
	daemon_ready(d);

	r = sd_event_loop(event);
	const struct log_field f[] = { { "TABLE", daemon_table(d) } };
	log_event(LOG_INFO, MID_STOPPED, f, ELEMENTSOF(f), "stopped; table inet %s stays in the kernel",
		  daemon_table(d));
	return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check", no_argument, NULL, 'C' },
		{ "print-ruleset", no_argument, NULL, 'P' },
		{ "remove", no_argument, NULL, 'R' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	const char *config = POLICY_DEFAULT_PATH;
	struct daemon *d = NULL;
	int action = 0, c, r;

	while ((c = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 'C':
		case 'P':
		case 'R':
			if (action && action != c) {
				fprintf(stderr, "natwardend: --check, --print-ruleset and --remove exclude each other\n");
				return 2;
			}
			action = c;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("natwardend %s\n", NATWARDEN_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "natwardend: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	log_open();
	if (action) {
		/* interactive: plain messages, no journal events */
		r = action == 'R' ? daemon_remove_table(config) : daemon_check(config, action == 'P');
		return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
	}
	if (daemon_new(config, NULL, &d) < 0)
		return fatal(-EINVAL, "%s is not a usable policy (see the messages above)", config);
	r = run_daemon(d);
	daemon_free(d);
	return r;
}
