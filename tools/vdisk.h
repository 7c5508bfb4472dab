/*
 * vdisk: virtual time for a disk server and the audio side that feeds it
 *
 * For benchmarks that want a slow disk's timing without its wall time:
 * the server's injected delays (diskserver_opts.sleep) pass on a simulated
 * clock that the audio side moves on with vdisk_advance, one period at a
 * time, waiting each time until the disk thread has done all it would
 * have done by then (it sleeps past the new time, or waits for work with
 * none posted). The disk's delays run back to back on its own time
 * unless it went idle in between; real file I/O takes no virtual time.
 * The server's deadline clock (diskserver_opts.clock) is the same clock.
 *
 * Contexts: init, hook, advance, free_run and clear on the thread that
 * acts as the audio side (one); the hooks on the disk thread.
 */
#ifndef RTB_TOOLS_VDISK_H
#define RTB_TOOLS_VDISK_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "bridge/disk/diskserver.h"

struct vdisk {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	_Atomic int64_t now; /* the audio side's time, ns */
	int64_t disk_t;      /* the disk's time: end of its last delay */
	int state;           /* busy, idle (waiting for work), sleeping */
	int was_idle;        /* the disk waited for work since its last delay */
	int free_run;        /* delays pass at once (to stop the server) */
	struct diskserver *srv;
};

/* Time 0, the disk idle. `srv` is the server the hooks will serve (it may
 * start later). */
void vdisk_init(struct vdisk *v, struct diskserver *srv);
void vdisk_clear(struct vdisk *v);

/* Point the server's clock, sleep and idle hooks at `v` (before
 * diskserver_start). */
void vdisk_hook(struct vdisk *v, struct diskserver_opts *o);

/* Move time on by `ns`, then wait until the disk has caught up. */
void vdisk_advance(struct vdisk *v, int64_t ns);

/* From now on every delay passes at once (call before diskserver_stop). */
void vdisk_free_run(struct vdisk *v);

#endif
