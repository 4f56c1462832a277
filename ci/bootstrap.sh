# Sourced by ./run-matrix and ci/test: make sure that the Debian packages punchlab builds and
# runs with are installed (as root: installing the missing ones with apt-get, saying what and
# why; as a user: naming them in one apt-get line to run as root, exit 2), and that the build
# directory is configured and up to date. Leaves PUNCHLAB_TOP and PUNCHLAB_BIN set.
# Rootless (docs/rootless.md): punchlab itself enters a user namespace; the build directory is
# build/ when the user can write it, else ${XDG_CACHE_HOME:-~/.cache}/punchlab/build-<hash of
# the checkout's path> (a build/ made by an earlier `sudo ./run-matrix` belongs to root).
# shellcheck shell=bash

PUNCHLAB_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
punchlab_die() { echo "$(basename "$0"): $*" >&2; exit 2; }

punchlab_rootless=false
[ "$(id -u)" != 0 ] && punchlab_rootless=true
# where a user can write: build/ (or the checkout, to make it), else the user's cache
punchlab_user_build() {
	local b=$PUNCHLAB_TOP/build
	if { [ -d "$b" ] && [ -w "$b" ]; } || { [ ! -e "$b" ] && [ -w "$PUNCHLAB_TOP" ]; }; then
		echo "$b"
	else
		echo "${XDG_CACHE_HOME:-${HOME:?HOME is not set}/.cache}/punchlab/build-$(printf %s "$PUNCHLAB_TOP" | sha256sum | cut -c1-12)"
	fi
}
if [ -z "${PUNCHLAB_BUILD:-}" ]; then
	if $punchlab_rootless; then PUNCHLAB_BUILD=$(punchlab_user_build); else PUNCHLAB_BUILD=$PUNCHLAB_TOP/build; fi
fi
PUNCHLAB_BIN=$PUNCHLAB_BUILD/punchlab
# the setup and package logs: beside the sources when writable (as before), else in the build's parent
punchlab_logs=$PUNCHLAB_TOP
[ -w "$PUNCHLAB_TOP" ] || punchlab_logs=$(dirname "$PUNCHLAB_BUILD") # made when first written

# package -> why we need it
punchlab_packages=(
	"meson:the build system"
	"ninja-build:the build backend meson drives"
	"pkg-config:how meson finds the libraries below"
	"gcc:the C compiler"
	"libc6-dev:the C library headers"
	"libnl-3-dev:netlink sockets (libnl-3)"
	"libnl-route-3-dev:links, addresses and routes over rtnetlink (libnl-route-3)"
	"libmnl-dev:nfnetlink for conntrack (libmnl)"
	"libnftables-dev:loading NAT profiles (libnftables)"
	"libyaml-dev:parsing topology files (libyaml)"
	"libjansson-dev:reading matrix.json baselines and the engine's JSON events (jansson)"
	"libcmocka-dev:the unit tests (cmocka)"
	"zlib1g-dev:gzip for repro bundles (punchlab bundle, punchlab replay)"
	"libsodium-dev:punch authenticates every message with a keyed BLAKE2b MAC (libsodium)"
	"python3:meson runs on it; ci/test reads meson's test log with it"
	"iproute2:tests and the benchmark's shell-way baseline compare against ip(8)"
	"nftables:tests and the benchmark's shell-way baseline compare against nft(8)"
	"procps:sysctl(8) for the benchmark's shell-way baseline"
	"util-linux:lsns(8) for the lifetime tests"
	"conntrack:the events test reads a NAT's conntrack table with conntrack(8)"
	"iputils-ping:the impaired-link test measures delay, jitter and loss with ping(8)"
	"netcat-openbsd:the impaired-link test measures a rate-limited transfer with nc(1)"
	"libpcap-dev:packet captures of punchlab run --pcap and matrix --pcap (libpcap)"
	"tcpdump:the run test reads the captures back with tcpdump(8)"
	"coturn:the probe test runs an RFC 5780 STUN server (turnserver) and its turnutils_natdiscovery"
	"stun-client:the probe test imports the RFC 3489 client's output (stun)"
	"miniupnpd-nftables:profiles with a portmap: header run a UPnP-IGD / NAT-PMP server (miniupnpd) in the NAT node"
	"libnatpmp-dev:punch --technique portmap asks the router for a mapping over NAT-PMP (libnatpmp)"
	"libminiupnpc-dev:punch --technique portmap asks the router for a mapping over UPnP-IGD (libminiupnpc)"
	"jq:docs/walkthrough.md (run by the walkthrough test) reads matrix.json with jq(1)"
	"tayga:a nat node with a nat64 prefix runs NAT64 (tayga) in the node (topologies/nat64.yaml)"
	"openssl:the ice engine's TURN server certificate per run, and the TURN-over-TLS test's untrusted one (openssl req)"
)
# PUNCHLAB_SANITIZE=1 (ci/test --sanitize, ci/fuzz): the sanitizer and fuzzing build (clang,
# build-sanitize/) and valgrind; PUNCHLAB_VALGRIND=1 (ci/test --valgrind): valgrind alone.
if [ "${PUNCHLAB_SANITIZE:-0}" = 1 ]; then
	punchlab_packages+=(
		"clang:the sanitizer and fuzzing build (ci/test --sanitize, ci/fuzz)"
		"libclang-rt-14-dev:clang's ASan, UBSan and libFuzzer runtimes"
		"valgrind:memcheck of the unit tests and a lab cycle (ci/test --sanitize, --valgrind)"
	)
elif [ "${PUNCHLAB_VALGRIND:-0}" = 1 ]; then
	punchlab_packages+=("valgrind:memcheck of the unit tests and a lab cycle (ci/test --valgrind)")
fi

# The engine files asked for: `--engine NAME|PATH` (or --engine=) among the arguments of the
# script that sources this (run-matrix passes its own), and $PUNCHLAB_ENGINES (names or paths,
# space-separated; "all": every engine file under engines/, as ci/test's lab tests run each
# shipped engine). One existing file a line.
punchlab_engine_files() {
	local refs=() file prev=
	for arg in "$@"; do
		[ "$prev" = --engine ] && refs+=("$arg")
		case $arg in --engine=*) refs+=("${arg#--engine=}") ;; esac
		prev=$arg
	done
	if [ "${PUNCHLAB_ENGINES:-}" = all ]; then
		refs+=("$PUNCHLAB_TOP"/engines/*.yaml)
	else
		# shellcheck disable=SC2206
		refs+=(${PUNCHLAB_ENGINES:-})
	fi
	for ref in "${refs[@]}"; do
		file=$ref
		[ -f "$file" ] || file=$PUNCHLAB_TOP/engines/$ref.yaml
		[ -f "$file" ] && echo "$file" # a missing one: punchlab itself says which
	done
	return 0
}

# An engine file's npm directory: `npm: { dir: DIR }` on one line, DIR next to the file.
punchlab_engine_npm_dir() {
	local dir
	dir=$(sed -n 's/^npm:[[:space:]]*{[[:space:]]*dir:[[:space:]]*\([^[:space:],}]*\).*/\1/p' "$1" | head -1)
	[ -n "$dir" ] && echo "$(dirname "$1")/$dir"
	return 0
}

# The Debian packages of the engines asked for. An engine file says `packages: [a, b]` on one
# line. One with `npm:` needs node and npm: Debian's nodejs and npm when either command is
# missing (a machine whose node came from elsewhere keeps it: NodeSource's nodejs bundles npm
# and conflicts with Debian's).
punchlab_engine_packages() {
	local file line pkg
	while IFS= read -r file; do
		line=$(sed -n 's/^packages:[[:space:]]*\[\(.*\)\].*/\1/p' "$file" | head -1)
		for pkg in ${line//,/ }; do
			echo "$pkg:needed by the engine $(basename "$file" .yaml) ($file)"
		done
		if [ -n "$(punchlab_engine_npm_dir "$file")" ]; then
			command -v node >/dev/null ||
				echo "nodejs:runs the engine $(basename "$file" .yaml)'s npm packages ($file)"
			command -v npm >/dev/null ||
				echo "npm:installs the engine $(basename "$file" .yaml)'s npm packages ($file)"
		fi
	done < <(punchlab_engine_files "$@")
}

# The npm packages of the engines asked for: `npm ci` from the committed package-lock.json into
# DIR/node_modules when it is missing or older than the lock (the test punchlab engines and
# punchlab matrix make, src/engine/engine_file_npm.c). Needs the npm registry only.
punchlab_install_npm() {
	local file dir
	while IFS= read -r file; do
		dir=$(punchlab_engine_npm_dir "$file")
		[ -n "$dir" ] || continue
		if [ -f "$dir/node_modules/.package-lock.json" ] &&
			! [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
			continue
		fi
		echo "punchlab: npm ci in $dir: the npm packages of the engine $(basename "$file" .yaml), as pinned by its package-lock.json" >&2
		rm -f "$dir/.npm-failed"
		mkdir -p "$punchlab_logs"
		if ! (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error) >"$punchlab_logs/.npm.log" 2>&1; then
			tail -20 "$punchlab_logs/.npm.log" >&2
			# An engine asked for by name cannot run without them: stop. One installed only
			# because ci/test installs every shipped engine (PUNCHLAB_ENGINES=all) must not
			# stop the whole suite when the registry cannot be reached from this machine (a
			# network with a TLS proxy whose CA the machine does not trust, no network):
			# the reason is kept in .npm-failed, and that engine's lab test skips with it.
			punchlab_engine_files_named "$@" | grep -qxF "$file" &&
				punchlab_die "npm ci failed in $dir (see $punchlab_logs/.npm.log)"
			{ echo "npm ci failed on $(date -u +%FT%TZ):"; grep -m3 'npm ERR!' "$punchlab_logs/.npm.log"; } >"$dir/.npm-failed"
			echo "punchlab: npm ci failed in $dir; going on without the engine $(basename "$file" .yaml) (its tests skip, saying why: $dir/.npm-failed)" >&2
		fi
		rm -f "$punchlab_logs/.npm.log"
	done < <(punchlab_engine_files "$@" | sort -u)
}

# The engine files named by --engine among the arguments (not those of PUNCHLAB_ENGINES).
punchlab_engine_files_named() {
	PUNCHLAB_ENGINES= punchlab_engine_files "$@"
}

punchlab_install_missing() {
	local missing=() entry pkg
	while IFS= read -r entry; do
		[ -n "$entry" ] && punchlab_packages+=("$entry")
	done < <(punchlab_engine_packages "$@" | awk -F: '!seen[$1]++') # once per package (iputils-ping: two engines)
	for entry in "${punchlab_packages[@]}"; do
		pkg=${entry%%:*}
		if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed"; then
			missing+=("$pkg")
			if $punchlab_rootless; then
				echo "punchlab: missing $pkg: ${entry#*:}" >&2
			else
				echo "punchlab: will install $pkg: ${entry#*:}" >&2
			fi
		fi
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	# a user cannot install packages: say which, in the one line root runs, and stop
	$punchlab_rootless && punchlab_die "missing Debian packages (listed above, with why): as root run: apt-get install --no-install-recommends ${missing[*]}"
	command -v apt-get >/dev/null || punchlab_die "missing packages (${missing[*]}) and no apt-get to install them: install them by hand"
	export DEBIAN_FRONTEND=noninteractive
	# Some of these packages ship a service (coturn's turnserver): punchlab runs the program
	# confined to a lab node, never as a service of this machine. Debian's policy-rc.d hook
	# (exit 101: "action forbidden") keeps the installation from starting any, when no policy
	# of the machine's own is there; ours is removed right after.
	local own_policy=false
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\n# punchlab bootstrap: no service starts while it installs packages\nexit 101\n' >/usr/sbin/policy-rc.d &&
			chmod 755 /usr/sbin/policy-rc.d && own_policy=true
	fi
	if ! apt-get install -y -q --no-install-recommends "${missing[@]}" >"$PUNCHLAB_TOP/.apt.log" 2>&1; then
		echo "punchlab: apt-get install failed; updating the package lists and trying again" >&2
		apt-get update -q >>"$PUNCHLAB_TOP/.apt.log" 2>&1
		apt-get install -y -q --no-install-recommends "${missing[@]}" >>"$PUNCHLAB_TOP/.apt.log" 2>&1 ||
			{ $own_policy && rm -f /usr/sbin/policy-rc.d
			  punchlab_die "apt-get could not install ${missing[*]} (see $PUNCHLAB_TOP/.apt.log)"; }
	fi
	$own_policy && rm -f /usr/sbin/policy-rc.d
	# ... nor at the next boot: a coturn that punchlab installed is not this machine's TURN server
	if [[ " ${missing[*]} " == *" coturn "* ]] && [ -d /run/systemd/system ] &&
	   systemctl is-enabled coturn >/dev/null 2>&1; then
		systemctl disable coturn >/dev/null 2>&1 &&
			echo "punchlab: disabled the coturn service the package enabled (the ice engine runs turnserver in a lab node only)" >&2
	fi
	# ... and the same for miniupnpd: it runs per cell in a NAT node with its own config
	if [[ " ${missing[*]} " == *" miniupnpd-nftables "* ]] && [ -d /run/systemd/system ] &&
	   systemctl is-enabled miniupnpd >/dev/null 2>&1; then
		systemctl disable miniupnpd >/dev/null 2>&1 &&
			echo "punchlab: disabled the miniupnpd service the package enabled (punchlab runs it in a lab node only)" >&2
	fi
	# ... and tayga: the package's service would make a nat64 device, routes and an iptables
	# NAT rule in this machine's own namespace at the next boot; the lab runs it per node
	if [[ " ${missing[*]} " == *" tayga "* ]] && [ -d /run/systemd/system ] &&
	   systemctl is-enabled tayga >/dev/null 2>&1; then
		systemctl disable tayga >/dev/null 2>&1 &&
			echo "punchlab: disabled the tayga service the package enabled (punchlab runs it in a lab node only)" >&2
	fi
	rm -f "$PUNCHLAB_TOP/.apt.log"
}

punchlab_build() {
	local werror=false
	[ "${CI:-}" = true ] && werror=true
	if [ ! -f "$PUNCHLAB_BUILD/build.ninja" ]; then
		echo "punchlab: configuring $PUNCHLAB_BUILD (meson setup)" >&2
		mkdir -p "$(dirname "$PUNCHLAB_BUILD")"
		local setup=(meson setup "$PUNCHLAB_BUILD" "$PUNCHLAB_TOP" -Dwerror=$werror)
		# ASan+UBSan, every UBSan report fatal, libFuzzer targets (tests/fuzz/meson.build)
		[ "${PUNCHLAB_SANITIZE:-0}" = 1 ] && setup=(env CC=clang "${setup[@]}"
			-Db_sanitize=address,undefined -Db_lundef=false -Dc_args=-fno-sanitize-recover=all
			-Dfuzzing=true)
		"${setup[@]}" >"$punchlab_logs/.meson-setup.log" 2>&1 ||
			{ cat "$punchlab_logs/.meson-setup.log" >&2; punchlab_die "meson setup failed"; }
		rm -f "$punchlab_logs/.meson-setup.log"
	fi
	# The ICE driver (src/ice) is built only when meson found libnice: when libnice-dev came
	# after the build was configured (an engine's package, installed above), configure again.
	if pkg-config --exists nice 2>/dev/null && ! grep -q '^build src/ice/ice:' "$PUNCHLAB_BUILD/build.ninja"; then
		echo "punchlab: libnice is installed now: reconfiguring $PUNCHLAB_BUILD to build the ICE driver" >&2
		meson setup --reconfigure "$PUNCHLAB_BUILD" "$PUNCHLAB_TOP" >"$punchlab_logs/.meson-setup.log" 2>&1 ||
			{ cat "$punchlab_logs/.meson-setup.log" >&2; punchlab_die "meson setup --reconfigure failed"; }
		rm -f "$punchlab_logs/.meson-setup.log"
	fi
	# ninja rebuilds what is stale and re-runs meson itself when a meson.build changed.
	ninja -C "$PUNCHLAB_BUILD" >"$PUNCHLAB_BUILD/.ninja.log" 2>&1 ||
		{ tail -40 "$PUNCHLAB_BUILD/.ninja.log" >&2; punchlab_die "the build failed"; }
}

punchlab_install_missing "$@"
punchlab_install_npm "$@"
punchlab_build
