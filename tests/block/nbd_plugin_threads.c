/* nbd_plugin_threads: nbdkit-vmsg-plugin's waiting threads under load,
 * without nbdkit. The plugin is loaded with dlopen and called as nbdkit's
 * parallel thread model calls it: THREADS threads at once on one handle,
 * against a RAM disk that replies in batches, in reverse order (so
 * completions come out of order and several at a time).
 *
 * The plugin lets one waiting thread at a time poll the channel, wakes
 * exactly the threads whose requests completed, and hands the polling on
 * when the poller's own request is done (dom0/nbdkit/vmsg-plugin.c). A
 * hand-over that is lost leaves threads asleep with their replies in the
 * ring: here that is a call that never returns, and the watchdog fails
 * the test. Every read is checked against what the thread wrote (each
 * thread owns a region of the disk), so a completion handed to the wrong
 * thread fails it too. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "block/block_test_util.h"
#include "block/nbdkit_stubs.h"

#define THREADS 24
#define OPS 1500
#define REGION (512u * 1024u)      /* each thread's part of the disk */
#define MAX_IO (64u * 1024u)
#define WATCHDOG_S 60              /* a loaded 2-core machine: generous */
/* Every thread waits for the others this often: then no new request comes
 * to drive the channel while the last ones wait, and each completion must
 * be handed on from thread to thread alone. */
#define BARRIER_EVERY 8

static struct nbdkit_plugin *plugin;
static void *handle;
static pthread_barrier_t rounds;
static unsigned done_threads;
static pthread_mutex_t done_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t done_cv = PTHREAD_COND_INITIALIZER;

struct worker {
	unsigned id;
	uint8_t *shadow; /* what this thread's region holds */
	uint64_t ops, bytes;
	pthread_t th;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	uint64_t seed = 0x9e3779b97f4a7c15ULL * (w->id + 1);
	uint64_t base = (uint64_t)w->id * REGION;
	uint8_t *buf = malloc(MAX_IO);
	ASSERT_TRUE(buf != NULL);

	/* The region starts known: written whole. */
	for (uint32_t i = 0; i < REGION; i++)
		w->shadow[i] = (uint8_t)vmsg_test_rand(&seed);
	ASSERT_EQ(plugin->pwrite(handle, w->shadow, REGION, base, 0), 0);
	for (unsigned k = 0; k < OPS; k++) {
		if (k % BARRIER_EVERY == 0)
			pthread_barrier_wait(&rounds);
		uint64_t r = vmsg_test_rand(&seed);
		uint32_t len = (uint32_t)(1 + r % (MAX_IO / 512)) * 512u;
		uint32_t off = (uint32_t)((r >> 20) % ((REGION - len) / 512 + 1)) *
			       512u;
		switch ((r >> 40) % 8) {
		case 0: case 1: /* a write of fresh bytes */
			for (uint32_t i = 0; i < len; i++)
				buf[i] = (uint8_t)vmsg_test_rand(&seed);
			ASSERT_EQ(plugin->pwrite(handle, buf, len, base + off,
						 0), 0);
			memcpy(w->shadow + off, buf, len);
			break;
		case 2: /* zeroes, sometimes with FUA */
			ASSERT_EQ(plugin->zero(handle, len, base + off,
					       (r & 1) ? NBDKIT_FLAG_FUA : 0), 0);
			memset(w->shadow + off, 0, len);
			break;
		case 3:
			ASSERT_EQ(plugin->flush(handle, 0), 0);
			break;
		default: /* a read, checked */
			memset(buf, 0xa5, len);
			ASSERT_EQ(plugin->pread(handle, buf, len, base + off, 0),
				  0);
			if (memcmp(buf, w->shadow + off, len) != 0)
				VMSG_TEST_FAIL("thread %u: read of %u at %llu "
					       "differs from what it wrote",
					       w->id, len,
					       (unsigned long long)(base + off));
		}
		w->ops++;
		w->bytes += len;
	}
	free(buf);
	pthread_mutex_lock(&done_mu);
	done_threads++;
	pthread_cond_signal(&done_cv);
	pthread_mutex_unlock(&done_mu);
	return NULL;
}

int main(void)
{
	char dir[] = "/tmp/vmsg-plugin-threads.XXXXXX", path[64];
	ASSERT_TRUE(mkdtemp(dir) != NULL);
	snprintf(path, sizeof path, "%s/disk", dir);

	void *so;
	plugin = nbdkit_stub_load(PLUGIN_SO, &so);
	ASSERT_EQ(plugin->_thread_model, NBDKIT_THREAD_MODEL_PARALLEL);

	struct bt_disk d;
	bt_disk_start(&d, path, (uint64_t)THREADS * REGION, 8);
	ASSERT_EQ(plugin->config("path", path), 0);
	ASSERT_EQ(plugin->config_complete(), 0);
	handle = plugin->open(0);
	ASSERT_TRUE(handle != NULL);

	struct worker w[THREADS];
	memset(w, 0, sizeof w);
	ASSERT_EQ(pthread_barrier_init(&rounds, NULL, THREADS), 0);
	for (unsigned i = 0; i < THREADS; i++) {
		w[i].id = i;
		w[i].shadow = malloc(REGION);
		ASSERT_TRUE(w[i].shadow != NULL);
		ASSERT_EQ(pthread_create(&w[i].th, NULL, work, &w[i]), 0);
	}
	/* The watchdog: every thread must finish; one that never returns
	 * from the plugin is a lost wake-up. */
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += WATCHDOG_S;
	pthread_mutex_lock(&done_mu);
	while (done_threads < THREADS) {
		if (pthread_cond_timedwait(&done_cv, &done_mu, &until) ==
		    ETIMEDOUT)
			VMSG_TEST_FAIL("%u of %u threads still inside the "
				       "plugin after %d s: a wake-up was lost",
				       THREADS - done_threads, THREADS,
				       WATCHDOG_S);
	}
	pthread_mutex_unlock(&done_mu);
	uint64_t ops = 0, bytes = 0;
	for (unsigned i = 0; i < THREADS; i++) {
		pthread_join(w[i].th, NULL);
		ops += w[i].ops;
		bytes += w[i].bytes;
		free(w[i].shadow);
	}
	pthread_barrier_destroy(&rounds);
	plugin->close(handle);
	bt_disk_stop(&d);
	ASSERT_EQ(d.result, -EPIPE); /* the plugin closed its channel */
	printf("%u threads, %llu requests (%llu MiB) through the plugin, "
	       "%llu served by the disk: all checked\n", THREADS,
	       (unsigned long long)ops, (unsigned long long)(bytes >> 20),
	       (unsigned long long)d.served);
	ASSERT_GE(d.served, ops);
	dlclose(so);
	rmdir(dir);
	return 0;
}
