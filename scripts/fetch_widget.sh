#!/usr/bin/env bash
# Fetch the chat widget (rasa-webchat's standalone bundle) from the npm registry into
# widget/vendor/ — pinned version and integrity from widget/package.json; nothing built
# by others is committed. Idempotent: does nothing when the right bundle is there.
set -euo pipefail
cd "$(dirname "$0")/../widget"
read -r version integrity bundle < <(node -e '
  const p = require("./package.json");
  console.log(p.dependencies["rasa-webchat"], p.ks1.integrity, p.ks1.bundle)')
stamp="vendor/.rasa-webchat-$version"
if [[ -f vendor/webchat.js && -f "$stamp" ]]; then
  exit 0
fi
if ! command -v npm >/dev/null; then
  echo "The chat widget needs Node.js and npm to be fetched; install them (Debian: apt-get install nodejs npm)." >&2
  exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "Fetching rasa-webchat $version from the npm registry …"
(cd "$tmp" && npm pack --silent --json "rasa-webchat@$version" > pack.json)
got=$(node -e 'console.log(require(process.argv[1])[0].integrity)' "$tmp/pack.json")
if [[ "$got" != "$integrity" ]]; then
  echo "rasa-webchat $version has integrity $got, expected $integrity; not using it." >&2
  exit 1
fi
tar -xzf "$tmp"/rasa-webchat-"$version".tgz -C "$tmp"
mkdir -p vendor
cp "$tmp/package/$bundle" vendor/webchat.js
cp "$tmp/package/LICENSE" vendor/LICENSE.rasa-webchat
rm -f vendor/.rasa-webchat-*
touch "$stamp"
echo "rasa-webchat $version is in widget/vendor/webchat.js"
