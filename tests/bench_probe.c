/* Benchmark, not a test: wall time of the serial probe against simulated
 * VESCs on pseudo-terminals (issue 2: 8 ports, 4 silent, target <= 0.5 s;
 * CONTRACTS.md §6: a UART baud scan may take up to 2 s). Prints figures,
 * never fails on speed. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "bench/vesc_sim.h"
#include "probes/serial_probe.h"

#define N_PORTS 8

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct vesc_sim *start_sim(enum vesc_sim_behaviour b, unsigned baud)
{
	struct vesc_sim_config cfg;
	vesc_sim_config_defaults(&cfg);
	cfg.behaviour = b;
	if (baud)
		cfg.baud = baud;
	struct vesc_sim *sim = NULL;
	struct vr_error err = {0};
	if (vesc_sim_start(&cfg, &sim, &err) != VR_OK) {
		fprintf(stderr, "bench_probe: %s\n", err.msg);
		return NULL;
	}
	return sim;
}

static int summarise(const struct observations *obs, unsigned *answering)
{
	*answering = 0;
	for (unsigned i = 0; i < obs->n_serial; i++)
		if (obs->serial[i].status == SERIAL_VESC)
			(*answering)++;
	return 0;
}

static int probe_ports(unsigned n_silent)
{
	struct vesc_sim *sims[N_PORTS] = {0};
	const char *ports[N_PORTS];
	int rc = 0;
	for (unsigned i = 0; i < N_PORTS; i++) {
		sims[i] = start_sim(i < n_silent ? VESC_SIM_SILENT : VESC_SIM_HEALTHY, 0);
		if (!sims[i]) {
			rc = 1;
			goto out;
		}
		ports[i] = vesc_sim_port(sims[i]);
	}
	struct observations *obs = calloc(1, sizeof *obs);
	if (!obs) {
		rc = 1;
		goto out;
	}
	struct serial_probe_opts opts = {.ports = ports, .n_ports = N_PORTS};
	struct vr_error err = {0};
	double t0 = now_s();
	serial_probe_run(&opts, obs, &err);
	double took = now_s() - t0;
	unsigned answering;
	summarise(obs, &answering);
	printf("probe %u ports (%u silent): %.3f s  (%u answered)\n", N_PORTS, n_silent,
	       took, answering);
	free(obs);
out:
	for (unsigned i = 0; i < N_PORTS; i++)
		vesc_sim_stop(sims[i]);
	return rc;
}

static int scan_uart(enum vesc_sim_behaviour b, unsigned vesc_baud, const char *label)
{
	struct vesc_sim *sim = start_sim(b, vesc_baud);
	if (!sim)
		return 1;
	struct observations *obs = calloc(1, sizeof *obs);
	if (!obs) {
		vesc_sim_stop(sim);
		return 1;
	}
	struct serial_probe_opts opts = {.uart = vesc_sim_port(sim), .uart_baud = 0};
	struct vr_error err = {0};
	double t0 = now_s();
	serial_probe_run(&opts, obs, &err);
	double took = now_s() - t0;
	printf("UART baud scan, %s: %.3f s  (%s, baud %u)\n", label, took,
	       serial_status_name(obs->serial[0].status), obs->serial[0].baud);
	free(obs);
	vesc_sim_stop(sim);
	return 0;
}

int main(void)
{
	int rc = 0;
	rc |= probe_ports(4);
	rc |= probe_ports(0);
	rc |= probe_ports(N_PORTS);
	rc |= scan_uart(VESC_SIM_WRONG_BAUD, 115200, "VESC at 115200 (first rate)");
	rc |= scan_uart(VESC_SIM_WRONG_BAUD, 921600, "VESC at 921600 (last rate)");
	rc |= scan_uart(VESC_SIM_SILENT, 0, "silent at every rate");
	printf("UART baud scan plan at the default timeout: %u ms\n",
	       serial_probe_scan_budget_ms(0));
	return rc;
}
