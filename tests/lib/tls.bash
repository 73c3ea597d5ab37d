# Bats helpers: a throwaway test CA and certificates, made with openssl once
# per Bats file, so the emulator (and the tools) can run over https.
#
#   load lib/tls                  (after lib/common)
#
#   tls_make          (setup_file) in $BATS_FILE_TMPDIR/tls: ca.pem (the test
#                     CA), server.pem + server.key (for 127.0.0.1 and
#                     localhost, signed by the CA), client.pem + client.key
#                     (a client certificate signed by the CA, for mutual
#                     TLS), and other-ca.pem (a CA that signed nothing here:
#                     "unknown CA"). Exports TLS_DIR.
#   emu_start_tls [ARGS]   emu_start over https with the server certificate
#                     (ARGS go to serve, e.g. --tls-client-ca "$TLS_DIR/ca.pem");
#                     EMU_URL is then https://127.0.0.1:PORT, and emu_admin
#                     trusts the CA (and shows the client certificate)
#
# EC keys: making them costs milliseconds, where RSA costs a second or more
# on a loaded machine.

tls_make() {
	TLS_DIR="$BATS_FILE_TMPDIR/tls"
	export TLS_DIR
	[[ -s "$TLS_DIR/client.pem" ]] && return 0
	mkdir -p "$TLS_DIR"
	local d=$TLS_DIR ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
	(
		set -e
		cd "$d"
		openssl req -x509 "${ec[@]}" -keyout ca.key -out ca.pem -days 2 -subj "/CN=pypi-mirror test CA" \
			-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
		openssl req -x509 "${ec[@]}" -keyout other-ca.key -out other-ca.pem -days 2 -subj "/CN=another test CA" \
			-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
		openssl req "${ec[@]}" -keyout server.key -out server.csr -subj "/CN=127.0.0.1"
		printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n' >server.ext
		openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile server.ext -out server.pem
		openssl req "${ec[@]}" -keyout client.key -out client.csr -subj "/CN=pypi-mirror test client"
		printf 'extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n' >client.ext
		openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile client.ext -out client.pem
		chmod 600 ./*.key
	) >"$BATS_FILE_TMPDIR/tls.log" 2>&1 || {
		cat "$BATS_FILE_TMPDIR/tls.log" >&2
		return 1
	}
}

emu_start_tls() {
	emu_start --tls-cert "$TLS_DIR/server.pem" --tls-key "$TLS_DIR/server.key" "$@" || return 1
	export EMU_URL="https://127.0.0.1:$EMU_PORT"
	export EMU_CACERT="$TLS_DIR/ca.pem"
	if [[ " $* " == *" --tls-client-ca "* ]]; then
		export EMU_CLIENT_CERT="$TLS_DIR/client.pem" EMU_CLIENT_KEY="$TLS_DIR/client.key"
	else
		unset EMU_CLIENT_CERT EMU_CLIENT_KEY
	fi
}
