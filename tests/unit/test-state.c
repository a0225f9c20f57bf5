/* SPDX-License-Identifier: MIT */
/* The saved state: journal batches, snapshots, and what a crash can leave behind. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "state.h"
#include "tap.h"

static int dirfd_of(const char *path)
{
	return open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

static struct active_entry *entry(const char *user, uint32_t uid, const char *name, const char *text,
				  int64_t accepted)
{
	struct fragment *f = NULL;
	struct diag_list errs;
	struct active_entry *e;

	diag_init(&errs);
	if (fragment_parse(name, text, strlen(text), &f, &errs) < 0)
		abort();
	e = active_entry_new(user, uid, f);
	e->accepted = accepted;
	e->expires = accepted + 60000;
	return e;
}

/* "uid/name:accepted" of every saved record, in load order. */
static char *summary(int dir)
{
	struct state_record *recs = NULL;
	struct diag_list errs;
	size_t n = 0, o = 0;
	static char buf[4096];

	diag_init(&errs);
	buf[0] = '\0';
	if (state_load(dir, &recs, &n, &errs) < 0)
		return strcpy(buf, "error");
	for (size_t i = 0; i < n; i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%u/%s:%lld", i ? " " : "", recs[i].uid,
				      recs[i].frag->name, (long long)recs[i].accepted);
	if (errs.n)
		snprintf(buf + o, sizeof(buf) - o, " [%zu note%s]", errs.n, errs.n == 1 ? "" : "s");
	state_records_free(recs, n);
	return buf;
}

static off_t size_of(int dir, const char *name)
{
	struct stat st;

	return fstatat(dir, name, &st, 0) == 0 ? st.st_size : -1;
}

int main(void)
{
	char path[] = "/tmp/natwarden-test-state-XXXXXX";
	struct active_entry *a, *b, *c;
	struct state_batch *batch;
	struct active_set *set;
	struct state *s = NULL;
	int dir;

	if (!mkdtemp(path) || (dir = dirfd_of(path)) < 0)
		return 1;
	is_str(summary(dir), "", "an empty directory holds no state");
	is_int(state_open(dir, &s), 0, "the journal opens (and is created)");

	a = entry("alice", 1001, "web", "dnat tcp 80 to 10.0.0.1\n", 3000);
	b = entry("bob", 1002, "game", "dnat udp 27015-27030 to 10.0.0.2\nlease 60\n", 1000);
	c = entry("alice", 1001, "ssh", "dnat tcp 2222 to 10.0.0.1:22\n", 2000);

	batch = state_batch_new(s);
	state_batch_save(batch, a);
	state_batch_save(batch, b);
	is_int(state_batch_commit(batch), 0, "a batch of two commits");
	is_str(summary(dir), "1002/game:1000 1001/web:3000", "both saved, oldest acceptance first");
	state_batch_save(batch, c);
	state_batch_remove(batch, 1002, "game");
	is_int(state_batch_commit(batch), 0, "a second batch on the same staging commits");
	is_str(summary(dir), "1001/ssh:2000 1001/web:3000", "a removal takes it away");
	is_int(state_batch_commit(batch), 0, "an empty batch commits nothing");

	/* a torn tail: a batch without its commit line does not count, nor does anything after */
	off_t good = size_of(dir, "journal");
	int j = openat(dir, "journal", O_WRONLY | O_APPEND);
	const char *torn = "del 1001 web\nput 1001 9 0 alice x 1";
	ok(write(j, torn, strlen(torn)) == (ssize_t)strlen(torn), "append a torn batch");
	is_str(summary(dir), "1001/ssh:2000 1001/web:3000 [1 note]", "a torn batch is ignored, and said so");
	ok(ftruncate(j, good) == 0, "cut it off again");
	/* a batch whose checksum does not match its records does not count */
	const char *forged = "del 1001 web\ncommit 1 0000000000000000\n";
	ok(write(j, forged, strlen(forged)) == (ssize_t)strlen(forged), "append a batch with a wrong checksum");
	is_str(summary(dir), "1001/ssh:2000 1001/web:3000 [1 note]", "a wrong checksum: ignored");
	ok(ftruncate(j, good) == 0, "cut it off again");
	close(j);
	state_free(s);
	s = NULL;

	/* re-open: the journal goes on where it was */
	is_int(state_open(dir, &s), 0, "re-open");
	batch = (state_batch_free(batch), state_batch_new(s));
	a->accepted = 4000;
	state_batch_save(batch, a);
	is_int(state_batch_commit(batch), 0, "a renewal commits");
	is_str(summary(dir), "1001/ssh:2000 1001/web:4000", "the later version wins");

	/* compaction: the snapshot holds exactly the active set, the journal is empty */
	set = active_set_new();
	active_set_insert(set, entry("alice", 1001, "web", "dnat tcp 80 to 10.0.0.1\n", 4000));
	active_set_insert(set, entry("carol", 1003, "mail", "dnat tcp 25 to 10.0.0.3\n", 5000));
	is_int(state_compact(s, set), 0, "compaction");
	is_int(size_of(dir, "journal"), 0, "the journal is empty after it");
	is_str(summary(dir), "1001/web:4000 1003/mail:5000", "the snapshot is the active set");
	ok(!state_wants_compaction(s), "a small journal wants no compaction");

	/* a crash between the snapshot and the journal's truncation: replaying is harmless */
	state_batch_remove(batch, 1003, "mail");
	state_batch_save(batch, c);
	is_int(state_batch_commit(batch), 0, "more changes");
	char *before = strdup(summary(dir));
	struct active_set *now = active_set_new();
	active_set_insert(now, entry("alice", 1001, "web", "dnat tcp 80 to 10.0.0.1\n", 4000));
	active_set_insert(now, entry("alice", 1001, "ssh", "dnat tcp 2222 to 10.0.0.1:22\n", 2000));
	off_t journal = size_of(dir, "journal");
	char *saved = malloc((size_t)journal);
	j = openat(dir, "journal", O_RDONLY);
	ok(read(j, saved, (size_t)journal) == journal, "keep the journal's bytes");
	close(j);
	is_int(state_compact(s, now), 0, "compact");
	j = openat(dir, "journal", O_WRONLY | O_APPEND);
	ok(write(j, saved, (size_t)journal) == journal, "put the old journal back, as if never truncated");
	close(j);
	is_str(summary(dir), before, "snapshot plus the old journal is the same state");
	free(before);
	free(saved);

	/* nothing but the two files is ever written */
	ok(size_of(dir, ".snapshot.tmp") < 0, "no temporary file is left");
	state_free(s);
	state_batch_free(batch);
	active_set_free(set);
	active_set_free(now);
	active_entry_free(a);
	active_entry_free(b);
	active_entry_free(c);
	unlinkat(dir, "journal", 0);
	unlinkat(dir, "snapshot", 0);
	close(dir);
	rmdir(path);
	return tap_done();
}
