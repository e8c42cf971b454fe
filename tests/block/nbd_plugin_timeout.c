/* nbd_plugin_timeout: nbdkit-vmsg-plugin's timeout= against a provider
 * that is connected but answers nothing, loaded with dlopen as
 * nbd_plugin_threads loads it. With timeout=1, THREADS reads waiting at
 * once on a silent provider all fail with EIO (the NBD client's I/O
 * error), and a read after them fails at once; without the timeout they
 * would wait for ever (the watchdog fails the test). A slow provider that
 * answers one request every 400 ms, with THREADS x 3 reads kept waiting
 * on it (4.8 s of them), is not cut off by timeout=2: the limit is on
 * silence, not on how long requests have been waiting.
 * Bad values are refused at config time. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "block/block_test_util.h"
#include "block/nbdkit_stubs.h"

#define THREADS 4
#define WATCHDOG_S 60 /* timeout=1 gives up after 1 to 2 s */

static struct nbdkit_plugin *plugin;
static void *handle;
static unsigned failed;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;

static void *reader(void *arg)
{
	static __thread uint8_t buf[4096];
	uint64_t off = (uint64_t)(uintptr_t)arg * sizeof(buf);
	int r = plugin->pread(handle, buf, sizeof(buf), off, 0);
	int err = nbdkit_last_error;
	ASSERT_EQ(r, -1);
	ASSERT_EQ(err, EIO);
	pthread_mutex_lock(&mu);
	failed++;
	pthread_cond_signal(&cv);
	pthread_mutex_unlock(&mu);
	return NULL;
}

/* Wait (watchdog) until every reader has come back. */
static void await_readers(void)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += WATCHDOG_S;
	pthread_mutex_lock(&mu);
	while (failed < THREADS)
		if (pthread_cond_timedwait(&cv, &mu, &until) == ETIMEDOUT)
			VMSG_TEST_FAIL("%u of %u reads still waiting on a "
				       "silent provider after %d s",
				       THREADS - failed, THREADS, WATCHDOG_S);
	pthread_mutex_unlock(&mu);
}

static void silent_provider(const char *path)
{
	struct bt_disk d;
	bt_disk_start(&d, path, 1u << 20, 0);
	d.silent = true; /* read by its thread only after a request comes */
	ASSERT_EQ(plugin->config("path", path), 0);
	ASSERT_EQ(plugin->config("timeout", "1"), 0);
	ASSERT_EQ(plugin->config_complete(), 0);
	handle = plugin->open(0);
	ASSERT_TRUE(handle != NULL);
	pthread_t th[THREADS];
	for (uintptr_t i = 0; i < THREADS; i++)
		ASSERT_EQ(pthread_create(&th[i], NULL, reader, (void *)i), 0);
	await_readers();
	for (unsigned i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	/* The connection is over: the next request fails at once. */
	uint8_t buf[512];
	ASSERT_EQ(plugin->pread(handle, buf, sizeof(buf), 0, 0), -1);
	ASSERT_EQ(nbdkit_last_error, EIO);
	plugin->close(handle);
	bt_disk_stop(&d);
	ASSERT_EQ(d.served, 0u);
	printf("silent provider: %u reads failed with EIO\n", failed);
}

static void *slow_reader(void *arg)
{
	static __thread uint8_t buf[4096];
	uint64_t off = (uint64_t)(uintptr_t)arg * sizeof(buf);
	for (int i = 0; i < 3; i++)
		ASSERT_EQ(plugin->pread(handle, buf, sizeof(buf), off, 0), 0);
	return NULL;
}

static void slow_provider(const char *path)
{
	struct bt_disk d;
	bt_disk_start(&d, path, 1u << 20, 0);
	d.delay_ms = 400;
	ASSERT_EQ(plugin->config("path", path), 0);
	ASSERT_EQ(plugin->config("timeout", "2"), 0);
	ASSERT_EQ(plugin->config_complete(), 0);
	handle = plugin->open(0);
	ASSERT_TRUE(handle != NULL);
	pthread_t th[THREADS];
	for (uintptr_t i = 0; i < THREADS; i++)
		ASSERT_EQ(pthread_create(&th[i], NULL, slow_reader, (void *)i),
			  0);
	for (unsigned i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	plugin->close(handle);
	bt_disk_stop(&d);
	ASSERT_EQ(d.served, THREADS * 3u);
	printf("slow provider: %u reads answered one per 400 ms under "
	       "timeout=2\n", THREADS * 3u);
}

int main(void)
{
	char dir[] = "/tmp/vmsg-plugin-timeout.XXXXXX", path[64];
	ASSERT_TRUE(mkdtemp(dir) != NULL);
	void *so;
	plugin = nbdkit_stub_load(PLUGIN_SO, &so);

	const char *bad[] = { "-1", "x", "1s", "86401", "" };
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ASSERT_EQ(plugin->config("timeout", bad[i]), -1);
	ASSERT_EQ(plugin->config("timeout", "0"), 0);

	snprintf(path, sizeof path, "%s/silent", dir);
	silent_provider(path);
	snprintf(path, sizeof path, "%s/slow", dir);
	slow_provider(path);
	dlclose(so);
	rmdir(dir);
	return 0;
}
