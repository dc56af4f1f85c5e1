#!/bin/sh
# make_certs.sh — a throw-away PKI for the wss:// API tests, made with the openssl CLI
# (P-256 keys, valid for two days).
#
# usage: make_certs.sh DIR
# Writes into DIR (which must exist):
#   ca.pem ca.key         the test CA
#   server1.pem/.key      a server certificate for 127.0.0.1 and localhost, signed by the CA
#   server2.pem/.key      a second one (for reloads), same names, another key and serial
#   client.pem/.key       a client certificate signed by the CA
#   rogue.pem/.key        a self-signed client certificate no test CA vouches for
#   server1.sha256, server2.sha256  the server certificates' SHA-256 fingerprints (of
#                         the DER form): 64 lower-case hex digits, no colons
# Prints "done" last; any failure exits non-zero with openssl's message.
set -eu
cd "$1"
EC="-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes"

cat >ext.cnf <<'EOF'
[server]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1,DNS:localhost
[client]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
EOF

openssl req -x509 $EC -keyout ca.key -out ca.pem -days 2 -subj /CN=lapps-test-ca \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
    2>&1
serial=2
for name in server1:server server2:server client:client; do
    n=${name%%:*}
    ext=${name#*:}
    openssl req -new $EC -keyout "$n.key" -out "$n.csr" -subj "/CN=lapps-test-$n" 2>&1
    openssl x509 -req -in "$n.csr" -CA ca.pem -CAkey ca.key -set_serial $serial -days 2 \
        -out "$n.pem" -extfile ext.cnf -extensions "$ext" 2>&1
    serial=$((serial + 1))
    rm -f "$n.csr"
done
openssl req -x509 $EC -keyout rogue.key -out rogue.pem -days 2 -subj /CN=lapps-test-rogue 2>&1

for n in server1 server2; do
    openssl x509 -in "$n.pem" -noout -fingerprint -sha256 |
        sed 's/.*=//; s/://g' | tr 'A-F' 'a-f' >"$n.sha256"
done
echo done
