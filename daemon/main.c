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
#include "nft.h"
#include "privs.h"

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

static int open_state_dir(const struct policy *p)
{
	int fd = open(p->daemon.state, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 && errno != ENOENT)
		fprintf(stderr, "%s: %s\n", p->daemon.state, strerror(errno));
	return fd;
}

static int run_check(struct daemon *d, bool print_ruleset)
{
	int fd = open_state_dir(d->policy);

	d->active = active_set_new();
	elements_init(&d->desired);
	if (!d->active)
		return EXIT_FAILURE;
	/* judged against the router's addresses as they are now, like the daemon would */
	if (localaddr_new(&d->localaddr) < 0 || localaddr_dump(d->localaddr, &d->router) < 0)
		fprintf(stderr, "natwardend: cannot read the router's addresses: judging without them\n");
	if (fd >= 0) {
		/* --print-ruleset keeps stdout for the ruleset alone */
		int kept = daemon_load_saved(d, fd, print_ruleset ? stderr : stdout);
		close(fd);
		if (kept < 0)
			return EXIT_FAILURE;
	}
	if (print_ruleset) {
		if (ruleset_render_full(&d->rcfg, &d->desired, stdout) < 0)
			return EXIT_FAILURE;
		return EXIT_SUCCESS;
	}
	printf("%s: OK\n", d->config_path);
	printf("table inet %s on interface %s%s\n", d->rcfg.table, d->rcfg.wan_interface,
	       d->rcfg.hairpin ? ", hairpin on" : "");
	printf("submitters: %zu in policy, %zu known users\n", d->policy->n_submitters,
	       d->n_submitters);
	printf("saved state: %zu active fragments of %zu users, %zu mappings\n",
	       active_set_size(d->active), active_set_users(d->active), active_set_rules(d->active));
	return EXIT_SUCCESS;
}

static int run_remove(struct daemon *d)
{
	struct nft *nft = NULL;
	char cmd[128], *err = NULL;
	uint64_t handle = 0;
	int r;

	r = nft_new(&nft);
	if (r < 0)
		return EXIT_FAILURE;
	r = nft_table_owner(nft, d->rcfg.table, &handle);
	if (r == -EEXIST) {
		fprintf(stderr,
			"table inet %s is not natwarden's (it lacks natwarden's mark): not removed\n",
			d->rcfg.table);
		nft_free(nft);
		return EXIT_FAILURE;
	}
	if (r == 0) {
		printf("table inet %s does not exist: nothing to remove\n", d->rcfg.table);
		nft_free(nft);
		return EXIT_SUCCESS;
	}
	/* by the handle just seen: should the table have been replaced since, nothing is deleted */
	snprintf(cmd, sizeof(cmd), "delete table inet handle %" PRIu64 "\n", handle);
	r = nft_run(nft, cmd, false, &err);
	if (r < 0) {
		if (err && strstr(err, "No such file or directory"))
			printf("table inet %s does not exist: nothing to remove\n", d->rcfg.table);
		else
			fprintf(stderr, "cannot delete table inet %s: %s\n", d->rcfg.table,
				err ? err : "unknown error");
	} else {
		printf("removed table inet %s and every forward in it\n", d->rcfg.table);
	}
	/* decide before free(err): the status depends on its text */
	int status = r < 0 && !(err && strstr(err, "No such file")) ? EXIT_FAILURE : EXIT_SUCCESS;
	free(err);
	nft_free(nft);
	return status;
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
	char why[600], status[200];
	sigset_t mask;
	int r;

	r = sd_event_default(&d->event);
	if (r < 0)
		return fatal(r, "cannot create the event loop");
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	(void)signal(SIGPIPE, SIG_IGN); /* cannot fail with these arguments */

	r = daemon_setup(d, why, sizeof(why));
	if (r < 0)
		return fatal(r, "%s", why);
	r = privs_drop(d->dirs.uid, d->dirs.gid, why, sizeof(why));
	if (r < 0)
		return fatal(r, "cannot drop privileges: %s", why);
	log_open(); /* the journal, as the user we are now */

	if (sd_event_add_signal(d->event, NULL, SIGTERM, on_term, d) < 0 ||
	    sd_event_add_signal(d->event, NULL, SIGINT, on_term, d) < 0 ||
	    sd_event_add_signal(d->event, NULL, SIGHUP, on_hup, d) < 0)
		return fatal(-EINVAL, "cannot set up signal handling");
	r = sd_event_set_watchdog(d->event, true);
	if (r < 0)
		log_warning_errno(r, "cannot enable the watchdog");

	r = daemon_start(d);
	if (r < 0)
		return fatal(r, "cannot start: see the messages above");
	d->ready = true;
	daemon_describe(d, status, sizeof(status));
	char count[24];
	snprintf(count, sizeof(count), "%zu", active_set_rules(d->active));
	const struct log_field f[] = { { "TABLE", d->rcfg.table }, { "MAPPINGS", count } };
	log_event(LOG_INFO, MID_STARTED, f, ELEMENTSOF(f), "started: %s", status);
	sd_notifyf(0, "READY=1\nSTATUS=%s", status);

	r = sd_event_loop(d->event);
	log_event(LOG_INFO, MID_STOPPED, f, 1, "stopped; table inet %s stays in the kernel",
		  d->rcfg.table);
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
	struct daemon d = { 0 };
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
		struct diag_list errs;
		diag_init(&errs);
		r = policy_load(config, &d.policy, &errs);
		if (r < 0) {
			diag_print(&errs, config, stderr);
			return EXIT_FAILURE;
		}
		if (daemon_use_policy(&d, config) < 0) {
			daemon_free(&d);
			return EXIT_FAILURE;
		}
		r = action == 'R' ? run_remove(&d) : run_check(&d, action == 'P');
		daemon_free(&d);
		return r;
	}
	if (daemon_load_policy(&d, config) < 0)
		return fatal(-EINVAL, "%s is not a usable policy (see the messages above)", config);
	r = run_daemon(&d);
	daemon_free(&d);
	sd_event_unref(d.event);
	return r;
}
