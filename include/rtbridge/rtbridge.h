/*
 * rtbridge: LAN audio streaming (RTP over UDP: Opus, L16, L24) as a library
 *
 * The public interface of librtbridge, one header per area:
 *
 *   rtbridge/engine.h    the audio engine: a mixer the network streams play
 *                        into, driven by a device, a virtual clock or the
 *                        application's own audio callback
 *                        (rtb_engine_process)
 *   rtbridge/metrics.h   an HTTP endpoint serving the metrics page the
 *                        application writes, in the Prometheus text
 *                        format and OpenMetrics, on the net thread of a
 *                        receiver, sender or SAP listener (since 0.4)
 *   rtbridge/receiver.h  RTP streams received on a UDP port: each sender
 *                        (SSRC) becomes a stream in the engine's mix; they
 *                        appear and leave with callbacks
 *   rtbridge/sap.h       the sessions announced with SAP (since 0.3):
 *                        they appear and leave with a callback, with
 *                        the settings a receiver needs to take them
 *   rtbridge/sender.h    one RTP stream sent from a sound file, or from
 *                        frames the application pushes
 *
 * Conventions, everywhere: one prefix (rtb_), opaque handles made by
 * rtb_*_create and freed by rtb_*_destroy, functions that can fail return
 * an int that is >= 0 on success and a negated errno value otherwise
 * (-EINVAL, -ENOMEM, -EADDRINUSE, ...; strerror(-rc) names it), with a
 * line saying what is wrong written where the function says (a `why`
 * buffer, or rtb_engine_error). Each function states the thread it may
 * be called from ("Context:"): the control thread is the one thread of
 * the application that creates, polls and destroys the objects; the audio
 * thread is the application's audio callback, where only functions marked
 * "real-time safe" may be called (they never allocate, lock, block or
 * make a system call; link with -Wl,-z,now, or call them once before, so
 * that the dynamic linker's lazy lookup does not run there on their
 * first call).
 *
 * Versions: the soname is librtbridge.so.MAJOR; a minor version only
 * adds (functions, and fields at the end of the config and stats
 * structs, zero meaning the old behaviour), and binaries built against an
 * older minor version keep their functions (symbol versions RTBRIDGE_0,
 * RTBRIDGE_0.2, RTBRIDGE_0.3, RTBRIDGE_0.4, ...).
 *
 * Build against it with pkg-config: `cc app.c $(pkg-config --cflags
 * --libs rtbridge)`.
 */
#ifndef RTBRIDGE_RTBRIDGE_H
#define RTBRIDGE_RTBRIDGE_H

#include <rtbridge/engine.h>
#include <rtbridge/metrics.h>
#include <rtbridge/receiver.h>
#include <rtbridge/sap.h>
#include <rtbridge/sender.h>
#include <rtbridge/version.h>

#endif
