/* host_waitset: vmsg/waitset.h on the host backend: one server process
 * echoes on WS_N channels from one wait set while WS_N client processes
 * send at once (tests/waitset_echo.h). */
#include "host_test_util.h"

#include <stdlib.h>

#include "waitset_echo.h"

int main(void)
{
	char dir[256], path[WS_N][300];
	vmsg_chan *c[WS_N], *quiet;
	pid_t kid[WS_N];

	alarm(120);
	ht_mkdtemp(dir, sizeof dir);
	for (unsigned i = 0; i < WS_N; i++) {
		snprintf(path[i], sizeof path[i], "%s/ws%u", dir, i);
		ASSERT_EQ(vmsg_host_serve(&c[i], path[i], NULL), 0);
	}
	snprintf(path[0], sizeof path[0], "%s/quiet", dir);
	ASSERT_EQ(vmsg_host_serve(&quiet, path[0], NULL), 0);
	for (unsigned i = 0; i < WS_N; i++)
		snprintf(path[i], sizeof path[i], "%s/ws%u", dir, i);
	for (unsigned i = 0; i < WS_N; i++) {
		kid[i] = fork();
		ASSERT_GE(kid[i], 0);
		if (kid[i] == 0) {
			vmsg_chan *cc;
			ASSERT_EQ(vmsg_host_connect(&cc, path[i], NULL, WS_T), 0);
			ws_client(cc, i);
			_exit(0);
		}
	}
	ws_serve(c, quiet);
	for (unsigned i = 0; i < WS_N; i++)
		ht_reap_ok(kid[i]);
	ht_rmdir(dir);
	printf("host_waitset: %u clients x %u messages echoed from one set\n",
	       WS_N, WS_MSGS);
	return 0;
}
