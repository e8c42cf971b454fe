/* vmsgd_many: 200 concurrent relayed channels across 10 guest processes.
 * dom1..dom5 each offer m1..m5 (relayed, 16 KiB rings) and echo without
 * blocking; dom6..dom10 each open 40 channels (8 to each provider) and run
 * them all at once (twice: a warm-up, then timed), 100 typed messages per channel with a window of 4,
 * every echo compared with what was sent. Then dom11 opens one channel of
 * m1 and stops reading: its channel fills up and vmsgd stalls that one
 * (its to_consumer_stalls counter shows it), and the 200 run again and
 * all complete intact. Completion and integrity are asserted; the two
 * timings are printed for the record only. */
#include "vt_nb.h"

#define PROVIDERS 5
#define CONSUMERS 5
#define PER_PROVIDER 8 /* channels each consumer opens to each provider */
#define NCH (PROVIDERS * PER_PROVIDER)
#define MSGS 100
#define WINDOW 4
#define STALLER 11

static size_t gen(unsigned me, unsigned j, unsigned k, unsigned char *buf,
		  uint16_t *type)
{
	size_t len = (k * 97u + j * 13u + me) % 2000u + 1u;
	uint64_t seed = ((uint64_t)me << 40) ^ ((uint64_t)j << 20) ^ k;
	for (size_t i = 0; i < len; i += 8) {
		uint64_t v = vmsg_test_rand(&seed);
		memcpy(buf + i, &v, len - i < 8 ? len - i : 8);
	}
	*type = (uint16_t)(0x100 + (k + j) % 7);
	return len;
}

static void run_all(unsigned me, vmsg_chan **ch)
{
	static unsigned char out[2048], in[4096];
	unsigned sent[NCH] = {0}, got[NCH] = {0}, left = NCH;
	struct pollfd p[NCH];
	while (left) {
		bool progress = false;
		for (unsigned j = 0; j < NCH; j++) {
			if (got[j] == MSGS)
				continue;
			(void)vmsg_chan_ack(ch[j]);
			while (sent[j] < MSGS && sent[j] - got[j] < WINDOW) {
				uint16_t t;
				size_t len = gen(me, j, sent[j], out, &t);
				int r = vmsg_chan_send(ch[j], t, out, len, 0, 0);
				if (r == -EAGAIN)
					break;
				ASSERT_EQ(r, (int)len);
				sent[j]++;
				progress = true;
			}
			while (got[j] < sent[j]) {
				uint16_t t, wt;
				int r = vmsg_chan_recv(ch[j], &t, in, sizeof in, 0);
				if (r == -EAGAIN)
					break;
				size_t len = gen(me, j, got[j], out, &wt);
				ASSERT_EQ(r, (int)len);
				ASSERT_EQ(t, wt);
				ASSERT_EQ(memcmp(in, out, len), 0);
				got[j]++;
				progress = true;
			}
			if (got[j] == MSGS)
				left--;
		}
		if (!progress) {
			for (unsigned j = 0; j < NCH; j++)
				p[j] = (struct pollfd){.fd = vmsg_chan_fd(ch[j]),
						       .events = POLLIN};
			poll(p, NCH, 100);
		}
	}
}

static int role_consumer(void)
{
	char line[64];
	vmsg_ctl *ctl = vt_ctl_open();
	unsigned me = (unsigned)vmsg_ctl_domid(ctl); /* distinct data */
	static vmsg_chan *ch[NCH];
	for (unsigned j = 0; j < NCH; j++) {
		char svc[16];
		snprintf(svc, sizeof svc, "m%u", 1 + j % PROVIDERS);
		int r = vmsg_service_open(ctl, svc, &ch[j], SIM_WAIT_MS);
		if (r < 0)
			VMSG_TEST_FAIL("open %s: %s (%s)", svc, vmsg_strerror(r),
				       vmsg_ctl_error(ctl));
	}
	sim_say(vt_out, "opened");
	for (;;) {
		sim_hear(vt_in, line, sizeof line);
		if (strcmp(line, "go"))
			break;
		uint64_t t0 = nb_now_ns();
		run_all(me, ch);
		sim_say(vt_out, "done %.0f",
			(double)(nb_now_ns() - t0) / 1e6);
	}
	for (unsigned j = 0; j < NCH; j++)
		vmsg_service_close(ctl, ch[j]);
	vmsg_ctl_close(ctl);
	return 0;
}

/* dom11: open m1, send until nothing moves any more, never read. */
static int role_staller(void)
{
	static unsigned char buf[1000];
	char line[64];
	vmsg_ctl *ctl = vt_ctl_open();
	vmsg_chan *c;
	ASSERT_EQ(vmsg_service_open(ctl, "m1", &c, SIM_WAIT_MS), 0);
	memset(buf, 0xab, sizeof buf);
	unsigned n = 0;
	for (;;) {
		int r = vmsg_chan_send(c, 0x100, buf, sizeof buf, 0, 0);
		if (r == (int)sizeof buf) {
			n++;
			continue;
		}
		ASSERT_EQ(r, -EAGAIN);
		struct pollfd p = {.fd = vmsg_chan_fd(c), .events = POLLIN};
		if (poll(&p, 1, 500) == 0)
			break; /* no room came for half a second: stuck */
		(void)vmsg_chan_ack(c);
	}
	sim_say(vt_out, "stalled %u", n);
	sim_expect(vt_in, "quit", line, sizeof line);
	vmsg_service_close(ctl, c);
	vmsg_ctl_close(ctl);
	return 0;
}

static const struct vt_role_fn roles[] = {
	{"consumer", role_consumer},
	{"staller", role_staller},
	{NULL, NULL},
};

static unsigned long long counter_of(const char *json, unsigned consumer,
				     const char *key)
{
	char pat[64], k[80];
	snprintf(pat, sizeof pat, "\"consumer\":%u,", consumer);
	const char *o = strstr(json, pat);
	if (!o)
		return 0;
	const char *end = strstr(o, "}}");
	snprintf(k, sizeof k, "\"%s\":", key);
	const char *v = strstr(o, k);
	if (!v || (end && v > end))
		return 0;
	return strtoull(v + strlen(k), NULL, 10);
}

static double phase(struct vt_role *cons)
{
	char buf[128];
	double worst = 0;
	for (int i = 0; i < CONSUMERS; i++)
		sim_say(cons[i].to, "go");
	for (int i = 0; i < CONSUMERS; i++) {
		const char *ms = sim_expect(cons[i].from, "done", buf, sizeof buf);
		double v = atof(ms);
		if (v > worst)
			worst = v;
	}
	return worst;
}

int main(int argc, char **argv)
{
	/* dom1..5: echo providers of the service named in argv[4]. */
	if (argc >= 5 && !strcmp(argv[1], "prov")) {
		vt_role_init(argv);
		exit(nb_provider(argv[4]));
	}
	vt_main(argc, argv, roles);
	static char buf[1 << 20];
	char conf[4096] = "";
	for (int i = 1; i <= PROVIDERS; i++) {
		size_t n = strlen(conf);
		snprintf(conf + n, sizeof conf - n,
			 "[service m%d]\noffer = %d\nopen = 6,7,8,9,10,%d\n"
			 "mode = relayed\nmax_channels_per_domain = 64\n"
			 "ring_size = 16384\nmax_msg = 65536\n\n",
			 i, i, STALLER);
	}
	vt_write_conf(conf);
	vt_start_vmsgd();

	struct vt_role prov[PROVIDERS], cons[CONSUMERS], st;
	for (int i = 0; i < PROVIDERS; i++) {
		char svc[16];
		snprintf(svc, sizeof svc, "m%d", i + 1);
		vt_spawn(&prov[i], i + 1, "prov", svc);
	}
	for (int i = 0; i < PROVIDERS; i++)
		sim_expect(prov[i].from, "offered", buf, sizeof buf);
	for (int i = 0; i < CONSUMERS; i++)
		vt_spawn(&cons[i], 6 + i, "consumer", NULL);
	for (int i = 0; i < CONSUMERS; i++)
		sim_expect(cons[i].from, "opened", buf, sizeof buf);
	ASSERT_EQ(vt_ctl(buf, sizeof buf, "--json list channels"), 0);
	unsigned relayed = 0;
	for (const char *s = buf; (s = strstr(s, "\"mode\":\"relayed\""));
	     s++)
		relayed++;
	ASSERT_EQ(relayed, PROVIDERS * PER_PROVIDER * CONSUMERS);

	(void)phase(cons); /* warm-up: first use of every ring */
	double free_ms = phase(cons);

	vt_spawn(&st, STALLER, "staller", NULL);
	sim_expect(st.from, "stalled", buf, sizeof buf);
	/* vmsgd holds a message for dom11 that does not fit. */
	unsigned long long stalls = 0;
	for (int i = 0; i < SIM_WAIT_MS / 50 && !stalls; i++) {
		ASSERT_EQ(vt_ctl(buf, sizeof buf, "--json list channels"), 0);
		stalls = counter_of(buf, STALLER, "to_consumer_stalls");
		if (!stalls)
			usleep(50000);
	}
	ASSERT_TRUE(stalls >= 1);
	printf("stalled channel of dom%d: to_consumer_bytes %llu, "
	       "to_provider_bytes %llu, stalls %llu\n",
	       STALLER, counter_of(buf, STALLER, "to_consumer_bytes"),
	       counter_of(buf, STALLER, "to_provider_bytes"), stalls);

	double stalled_ms = phase(cons);
	printf("200 relayed channels x %d messages, slowest of %d guests: "
	       "%.0f ms alone, %.0f ms with a stalled consumer\n",
	       MSGS, CONSUMERS, free_ms, stalled_ms);

	sim_say(st.to, "quit");
	vt_role_done(&st, 0);
	for (int i = 0; i < CONSUMERS; i++) {
		sim_say(cons[i].to, "quit");
		vt_role_done(&cons[i], 0);
	}
	vt_ctl_wait("--json list channels", "relayed", 0);
	for (int i = 0; i < PROVIDERS; i++) {
		sim_say(prov[i].to, "quit");
		vt_role_done(&prov[i], 0);
	}
	vt_stop_vmsgd();
	return 0;
}
