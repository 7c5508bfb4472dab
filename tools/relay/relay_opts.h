/*
 * relay_opts: configuration of the impairment relay from the environment
 * and the command line
 *
 * Every option --name has an environment twin RELAY_NAME (upper case,
 * '-' -> '_'), e.g. --reorder-gap and RELAY_REORDER_GAP, so that a compose
 * file can configure the relay. The environment is read first and the
 * command line overrides it. Flags take "1/0", "true/false", "yes/no" or
 * "on/off" in the environment. Pure parsing: nothing is resolved or opened
 * here. Context: control (main thread at start-up).
 */
#ifndef RTB_RELAY_OPTS_H
#define RTB_RELAY_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tools/relay/impair.h"

#define RELAY_OPTS_ADDR_MAX         256
#define RELAY_OPTS_DEFAULT_POOL     1024
#define RELAY_OPTS_DEFAULT_MAX_SIZE 9216

struct relay_opts {
	char listen_host[RELAY_OPTS_ADDR_MAX]; /* "" = wildcard */
	char listen_port[16];
	char to_host[RELAY_OPTS_ADDR_MAX];
	char to_port[16];
	char tee_host[RELAY_OPTS_ADDR_MAX]; /* --tee: a second destination */
	char tee_port[16];
	bool have_listen;
	bool have_to;
	bool have_tee;
	char trace[RELAY_OPTS_ADDR_MAX]; /* --trace FILE, "" = none */
	uint64_t seed;
	bool have_seed; /* else the relay picks and prints one */
	struct impair_config impair;
	double duration_s;    /* 0 = run until signalled */
	uint64_t max_packets; /* 0 = no limit */
	size_t pool;          /* payload slots */
	size_t max_size;      /* bytes per slot: largest datagram relayed */
	unsigned flood_dups;  /* copies per second of recent datagrams */
	bool stats;           /* print the JSON counters at exit */
	bool quiet;           /* no informational lines on stderr */
	bool help;
};

/*
 * Split "HOST:PORT", "[V6ADDR]:PORT" or ":PORT" (wildcard host).
 *
 * Return: 0, or -EINVAL (message in err) when the port is missing or not a
 *         number in 0..65535, the brackets do not match, or a part is too
 *         long.
 */
int relay_opts_split_addr(const char *s, char *host, size_t host_len,
                          char *port, size_t port_len, char *err,
                          size_t err_len);

/*
 * Fill o from the environment (getenv), then from argv[1..argc-1].
 *
 * Return: 0, or -EINVAL with a one-line message in err naming the option
 *         or variable and what is wrong. With --help, 0 and o->help set.
 * Post: on success without help, listen and to are both present and the
 *       impairment configuration passes impair_config_check.
 */
int relay_opts_parse(struct relay_opts *o, int argc, char **argv, char *err,
                     size_t err_len);

/* The usage text, for --help. */
const char *relay_opts_usage(void);

#endif
