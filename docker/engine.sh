#!/usr/bin/env bash
# Container engine and base image for the Docker tests (docker/loopback-test.sh,
# docker/pkg-test.sh), sourced by them.
#
# pick_engine finds docker or podman (when root and none answers: installs
# docker.io and starts a private dockerd, see start_dockerd; stop_dockerd
# stops it); pick_compose finds the engine's compose tool; ensure_base makes
# the base image $base (debian:bookworm-slim) from a debootstrap minbase
# tarball cached in $cache when it is missing, so no registry is needed.
#
# The caller sets root (the repository), work (a scratch directory),
# cache, base and dockerd_run, and defines log and verdict; these set
# engine, run_opts, compose and dockerd_pid.
# shellcheck shell=bash disable=SC2154,SC2034 # the caller's variables

# No engine can run: fail, or skip when the caller opted out.
no_engine() {
	if [ "${RTB_SKIP_DOCKER:-0}" = 1 ]; then
		verdict "skipped: no container engine: $*"
		exit 0
	fi
	verdict "FAIL engine: no container engine: $* (RTB_SKIP_DOCKER=1 skips)"
	exit 1
}

# Stop the private dockerd start_dockerd started, if any (from a trap,
# under set +e).
stop_dockerd() {
	if [ -n "$dockerd_pid" ]; then
		log "stopping the dockerd this script started (pid $dockerd_pid)"
		kill -TERM "$dockerd_pid" 2>/dev/null
		for _ in $(seq 1 100); do
			kill -0 "$dockerd_pid" 2>/dev/null || break
			sleep 0.2
		done
		kill -0 "$dockerd_pid" 2>/dev/null && kill -KILL "$dockerd_pid"
		# dockerd may leave its namespace mounts behind.
		awk -v run="$dockerd_run/" 'index($2, run) == 1 {print $2}' /proc/mounts |
			sort -r | while read -r m; do umount "$m"; done
		rm -rf "$dockerd_run/exec"
	fi
}

is_root() { [ "$(id -u)" -eq 0 ]; }

apt_install() {
	export DEBIAN_FRONTEND=noninteractive
	if ! apt-get install -y -qq --no-install-recommends "$@" >"$work/apt.log" 2>&1; then
		apt-get update -qq >>"$work/apt.log" 2>&1 || true
		apt-get install -y -qq --no-install-recommends "$@" >>"$work/apt.log" 2>&1
	fi
}

# Start a private dockerd. It leaves the host's firewall alone
# (--iptables=false, no forwarding, no default bridge): the containers use
# an internal network only, and image builds use the host's network.
start_dockerd() {
	local run=$dockerd_run
	mkdir -p "$run" "$cache/docker"
	export DOCKER_HOST="unix://$run/docker.sock"
	if timeout 20 docker info >/dev/null 2>&1; then
		log "using the dockerd already listening on $DOCKER_HOST"
		return 0
	fi
	if ! command -v dockerd >/dev/null; then
		log "installing docker.io"
		apt_install docker.io || no_engine "apt-get install docker.io failed (see $work/apt.log)"
	fi
	if [ -f "$run/dockerd.pid" ] && ! kill -0 "$(cat "$run/dockerd.pid")" 2>/dev/null; then
		rm -f "$run/dockerd.pid"
	fi
	dockerd --data-root "$cache/docker" --exec-root "$run/exec" \
		--pidfile "$run/dockerd.pid" -H "$DOCKER_HOST" \
		--iptables=false --ip-masq=false --ip-forward=false --bridge=none \
		>"$work/dockerd.log" 2>&1 &
	dockerd_pid=$!
	for _ in $(seq 1 60); do
		if timeout 5 docker info >/dev/null 2>&1; then
			log "started dockerd (pid $dockerd_pid, data in $cache/docker)"
			return 0
		fi
		kill -0 "$dockerd_pid" 2>/dev/null || break
		sleep 0.5
	done
	no_engine "dockerd did not start: $(tail -n 3 "$work/dockerd.log" | tr '\n' ' ')"
}

pick_engine() {
	local want=${RTB_ENGINE:-auto}
	if [ "$want" != podman ] && command -v docker >/dev/null &&
		timeout 20 docker info >/dev/null 2>&1; then
		engine=docker
	elif [ "$want" != docker ] && command -v podman >/dev/null &&
		timeout 20 podman info >/dev/null 2>&1; then
		engine=podman
	elif [ "$want" = podman ]; then
		no_engine "podman is missing or does not answer"
	elif is_root; then
		command -v docker >/dev/null || apt_install docker.io ||
			no_engine "apt-get install docker.io failed"
		start_dockerd
		engine=docker
	else
		no_engine "no engine answers and only root may start one"
	fi
	if [ "$engine" = podman ]; then
		# Rootful podman cannot raise these limits where root lacks
		# CAP_SYS_RESOURCE; compose.yaml sets the same ones.
		run_opts=(--ulimit nofile=20000:20000 --ulimit nproc=4096:4096)
		# With the CNI backend an internal network has no DNS, so the
		# services would not find each other by name: use netavark.
		if [ "$(podman info --format '{{.Host.NetworkBackend}}' 2>/dev/null)" = cni ] &&
			[ -z "${CONTAINERS_CONF:-}" ]; then
			if [ ! -x /usr/lib/podman/netavark ] || [ ! -x /usr/lib/podman/aardvark-dns ]; then
				is_root || no_engine "podman uses CNI (no DNS on internal networks); install netavark and aardvark-dns"
				log "installing netavark and aardvark-dns"
				apt_install netavark aardvark-dns || no_engine "apt-get install netavark failed"
			fi
			printf '[network]\nnetwork_backend = "netavark"\n' >"$work/containers.conf"
			export CONTAINERS_CONF=$work/containers.conf
		fi
	fi
}

# The compose tool of the engine (installing it when root).
pick_compose() {
	if [ "$engine" = docker ] && docker compose version >/dev/null 2>&1; then
		compose=(docker compose)
	elif [ "$engine" = docker ] && command -v docker-compose >/dev/null; then
		compose=(docker-compose)
	elif [ "$engine" = podman ] && command -v podman-compose >/dev/null; then
		compose=(podman-compose)
	elif is_root; then
		local pkg=docker-compose
		[ "$engine" = podman ] && pkg=podman-compose
		log "installing $pkg"
		apt_install "$pkg" || no_engine "apt-get install $pkg failed"
		compose=("$pkg")
	else
		no_engine "$engine has no compose tool (docker compose, docker-compose, podman-compose)"
	fi
	log "engine: $engine $("$engine" version --format '{{.Server.Version}}' 2>/dev/null ||
		true), compose: ${compose[*]}"
}


# The Debian mirror of this machine's apt sources (deb822 or one-line).
find_mirror() {
	local uris
	uris=$({
		grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | sed 's/^URIs:[[:space:]]*//' | tr ' ' '\n'
		grep -hs '^deb[[:space:]]' /etc/apt/sources.list /etc/apt/sources.list.d/*.list |
			sed 's/\[[^]]*\]//' | awk '{print $2}'
	} | grep -v '^$')
	# The main archive: a URI ending in /debian, not debian-security.
	printf '%s\n' "$uris" | grep -E '/debian/?$' | head -n 1 ||
		printf '%s\n' "$uris" | head -n 1
}

# debian:bookworm-slim from a cached minbase tarball, made with
# debootstrap when missing and trimmed like Debian's slim images.
ensure_base() {
	if "$engine" image inspect "$base" >/dev/null 2>&1; then
		log "base image $base present"
		return 0
	fi
	local tarball=$cache/bookworm-minbase.tar
	if [ ! -s "$tarball" ]; then
		is_root || no_engine "$base is missing and debootstrap needs root"
		command -v debootstrap >/dev/null || apt_install debootstrap ||
			no_engine "apt-get install debootstrap failed"
		local mirror=${RTB_MIRROR:-$(find_mirror)}
		[ -n "$mirror" ] || no_engine "no Debian mirror in /etc/apt (set RTB_MIRROR)"
		local rootfs=$work/rootfs
		log "debootstrap --variant=minbase bookworm from $mirror"
		debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 ||
			no_engine "debootstrap failed: $(tail -n 2 "$work/debootstrap.log" | tr '\n' ' ')"
		rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/cache/apt/*.bin \
			"$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/man/* \
			"$rootfs"/usr/share/info/* "$rootfs"/usr/share/locale/* "$rootfs"/var/log/*.log
		find "$rootfs/usr/share/doc" -mindepth 1 ! -name copyright ! -type d -delete
		find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete
		mkdir -p "$rootfs/var/lib/apt/lists/partial"
		cat >"$rootfs/etc/dpkg/dpkg.cfg.d/slim" <<-'EOF'
			path-exclude /usr/share/doc/*
			path-include /usr/share/doc/*/copyright
			path-exclude /usr/share/man/*
			path-exclude /usr/share/info/*
			path-exclude /usr/share/locale/*
		EOF
		cat >"$rootfs/etc/apt/apt.conf.d/slim" <<-'EOF'
			APT::Install-Recommends "false";
			DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true"; };
		EOF
		mkdir -p "$cache"
		tar --numeric-owner -C "$rootfs" -cf "$tarball.part" .
		mv "$tarball.part" "$tarball"
		rm -rf "$rootfs"
	fi
	log "importing $tarball as $base"
	"$engine" import \
		--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
		--change 'CMD ["bash"]' - "$base" <"$tarball" >"$work/import.log" 2>&1 ||
		no_engine "$engine import failed: $(tail -n 1 "$work/import.log")"
}

# copy_context DIR: the build context, the repository's files (tracked and
# new, not the ignored build trees) copied to DIR, so that nothing else is
# sent to the engine.
copy_context() {
	local ctx=$1
	mkdir -p "$ctx"
	if git -C "$root" rev-parse --git-dir >/dev/null 2>&1; then
		(cd "$root" && git ls-files -co --exclude-standard -z |
			while IFS= read -r -d '' f; do [ -f "$f" ] && printf '%s\0' "$f"; done |
			tar --null -T - -cf -) | tar -C "$ctx" -xf -
	else
		tar -C "$root" --exclude='./build*' -cf - . | tar -C "$ctx" -xf -
	fi
}
