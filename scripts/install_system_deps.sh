#!/usr/bin/env bash
# Install the Debian packages the test suite and channels need, when they are missing.
set -euo pipefail
packages=()
# chromium + chromium-driver: browser tests; postgresql: the handoff store on PostgreSQL;
# dovecot-imapd + dovecot-core: the IMAP server of the email tests; openssl: their TLS certificate;
# nginx: the production front (deploy/nginx), started by the security tests;
# redis-server: Rasa's lock store in the scale-out tests (tests/scale).
want=(chromium chromium-driver postgresql dovecot-imapd dovecot-core openssl nginx redis-server ${KS1BOT_APT_PACKAGES:-})
# Node.js and npm fetch the chat widget; many machines have them outside Debian's packages.
command -v npm >/dev/null || want+=(nodejs npm)
for pkg in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || packages+=("$pkg")
done
if ((${#packages[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "Missing Debian packages: ${packages[*]}; install them with: sudo apt-get install ${packages[*]}" >&2
    exit 1
  fi
  echo "Installing Debian packages: ${packages[*]}"
  # The tests start their own servers (nginx, PostgreSQL, Dovecot) on loopback: keep the
  # packages' own services (nginx on port 80, …) from starting during the installation.
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}"
fi
