# Shared by scripts/*: paths and the Debian packages Mailroom needs.
# shellcheck shell=bash

MR_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MR_BUILD=${MR_BUILD:-$MR_TOP/build}

# Build tools and libraries, servers the integration tests start privately,
# and the independent clients the tests drive them with.
MR_PACKAGES=(
	build-essential autoconf automake pkg-config clang libclang-rt-14-dev
	libuv1-dev libssl-dev libsasl2-dev libsasl2-modules sasl2-bin
	libldap2-dev libmariadb-dev libcrypt-dev libargon2-dev
	mariadb-server mariadb-client slapd ldap-utils
	python3 swaks curl openssl procps iproute2
	dovecot-core dovecot-imapd dovecot-pop3d
	postfix
	whois
	# bench/mta.py: postfix above is the reference MTA and ships /usr/sbin/smtp-source
	# bench/authd.py: Dovecot's auth service as the reference
	dovecot-mysql
)

mr_log() { printf '%s\n' "$*" >&2; }

# Install what is missing; apt-get update only when something is.
mr_install_packages() {
	local missing=() p
	for p in "${MR_PACKAGES[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
			missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	mr_log "setup: installing ${missing[*]}"
	local sudo=
	[ "$(id -u)" -eq 0 ] || sudo=sudo
	export DEBIAN_FRONTEND=noninteractive
	$sudo apt-get update -q
	# Keep the packaged services from starting: tests run private instances.
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
		$sudo chmod +x /usr/sbin/policy-rc.d
		trap '$sudo rm -f /usr/sbin/policy-rc.d' RETURN
	fi
	$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# Configure (when needed) and build in $1 (default $MR_BUILD), passing the
# rest as configure arguments.
mr_build() {
	local dir=${1:-$MR_BUILD}
	shift || true
	if [ ! -x "$MR_TOP/configure" ] || [ "$MR_TOP/configure.ac" -nt "$MR_TOP/configure" ]; then
		(cd "$MR_TOP" && autoreconf -fi) || return 1
	fi
	mkdir -p "$dir"
	if [ ! -f "$dir/Makefile" ]; then
		(cd "$dir" && "$MR_TOP/configure" "$@") || return 1
	fi
	make -C "$dir" -j"$(nproc)" >/dev/null || make -C "$dir"
}
