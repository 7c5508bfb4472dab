/*
 * vdisk: the simulated clock and the disk thread's hooks (see vdisk.h).
 * One mutex and condition variable: the disk thread announces its state
 * (busy, idle, sleeping until disk_t), the audio side moves `now` on and
 * waits for that state to say the disk has caught up.
 */
#include "tools/vdisk.h"

#include <string.h>
#include <time.h>

enum { VDISK_BUSY, VDISK_IDLE, VDISK_SLEEPING };

void vdisk_init(struct vdisk *v, struct diskserver *srv)
{
	memset(v, 0, sizeof(*v));
	pthread_mutex_init(&v->lock, NULL);
	pthread_cond_init(&v->cond, NULL);
	atomic_init(&v->now, 0);
	v->state = VDISK_BUSY;
	v->was_idle = 1;
	v->srv = srv;
}

void vdisk_clear(struct vdisk *v)
{
	pthread_mutex_destroy(&v->lock);
	pthread_cond_destroy(&v->cond);
}

static int64_t vdisk__clock(void *arg)
{
	struct vdisk *v = arg;
	return atomic_load_explicit(&v->now, memory_order_acquire);
}

/* Disk thread: an injected delay ends at the disk's own time plus `ns`
 * (back to back with its previous one unless it was idle since). */
static void vdisk__sleep(void *arg, int64_t ns)
{
	struct vdisk *v = arg;
	pthread_mutex_lock(&v->lock);
	int64_t now = atomic_load_explicit(&v->now, memory_order_relaxed);
	if (v->was_idle && v->disk_t < now)
		v->disk_t = now;
	v->was_idle = 0;
	v->disk_t += ns;
	v->state = VDISK_SLEEPING;
	pthread_cond_broadcast(&v->cond);
	while (!v->free_run &&
	       atomic_load_explicit(&v->now, memory_order_relaxed) < v->disk_t)
		pthread_cond_wait(&v->cond, &v->lock);
	v->state = VDISK_BUSY;
	pthread_mutex_unlock(&v->lock);
}

static void vdisk__idle(void *arg, int idle)
{
	struct vdisk *v = arg;
	pthread_mutex_lock(&v->lock);
	v->state = idle ? VDISK_IDLE : VDISK_BUSY;
	if (idle)
		v->was_idle = 1;
	pthread_cond_broadcast(&v->cond);
	pthread_mutex_unlock(&v->lock);
}

/* Move time on by `ns`, then wait until the disk has done everything due
 * by then: it sleeps past now, or waits for work with none posted. */
void vdisk_advance(struct vdisk *v, int64_t ns)
{
	pthread_mutex_lock(&v->lock);
	atomic_fetch_add_explicit(&v->now, ns, memory_order_release);
	pthread_cond_broadcast(&v->cond);
	for (;;) {
		int64_t now =
		        atomic_load_explicit(&v->now, memory_order_relaxed);
		if (v->state == VDISK_SLEEPING && v->disk_t > now)
			break;
		if (v->state == VDISK_IDLE) {
			if (atomic_load(&v->srv->mailbox.count) == 0)
				break;
			pthread_mutex_unlock(&v->lock);
			mailbox_wake(&v->srv->mailbox);
			pthread_mutex_lock(&v->lock);
		}
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&v->cond, &v->lock, &ts);
	}
	pthread_mutex_unlock(&v->lock);
}

void vdisk_hook(struct vdisk *v, struct diskserver_opts *o)
{
	o->clock = vdisk__clock;
	o->clock_arg = v;
	o->sleep = vdisk__sleep;
	o->sleep_arg = v;
	o->idle = vdisk__idle;
	o->idle_arg = v;
}

void vdisk_free_run(struct vdisk *v)
{
	pthread_mutex_lock(&v->lock);
	v->free_run = 1;
	pthread_cond_broadcast(&v->cond);
	pthread_mutex_unlock(&v->lock);
}
