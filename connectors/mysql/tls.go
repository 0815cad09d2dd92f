package mysql

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
)

// ErrTLSCertificate marks a connection refused because the server's TLS
// certificate did not verify against the configured CA or name: retrying
// cannot help until the configuration or the certificate changes.
var ErrTLSCertificate = errors.New("the source's TLS certificate was not accepted")

// connectError is a failed connection with a hint for the operator; it
// unwraps to the cause and, for certificates, to ErrTLSCertificate.
type connectError struct {
	msg  string
	errs []error
}

func (e *connectError) Error() string   { return e.msg }
func (e *connectError) Unwrap() []error { return e.errs }

// connectFailed wraps the error of a failed connection (prefix names who
// connected where), adding what the server or the TLS library states
// obscurely: a certificate that does not verify, or a login refused because
// it was not encrypted (MariaDB answers a plaintext login under
// require_secure_transport with a plain "access denied"). offersTLS reports
// whether the server's greeting offered TLS (nil: not known).
func connectFailed(prefix string, err error, usedTLS bool, offersTLS *bool) error {
	hint, cert := connectHint(err, usedTLS, offersTLS)
	if hint == "" {
		return fmt.Errorf("%s: %w", prefix, err)
	}
	e := &connectError{msg: prefix + ": " + err.Error() + " (" + hint + ")", errs: []error{err}}
	if cert {
		e.errs = append(e.errs, ErrTLSCertificate)
	}
	return e
}

// connectHint returns the hint for a failed connection ("" when it has
// nothing to add) and whether the server's certificate was refused.
func connectHint(err error, usedTLS bool, offersTLS *bool) (hint string, cert bool) {
	if usedTLS {
		var (
			he x509.HostnameError
			ua x509.UnknownAuthorityError
			cv *tls.CertificateVerificationError
		)
		msg := err.Error()
		switch {
		case errors.As(err, &he) || strings.Contains(msg, "x509: certificate is valid for"):
			return "TLS: the server's certificate is not valid for the name binlake checked (source.tls.server_name, else source.host): " +
				"set source.tls.server_name to a name the certificate holds, or use source.tls.mode verify-ca to check the CA only", true
		case errors.As(err, &ua) || strings.Contains(msg, "x509: certificate signed by unknown authority"):
			return "TLS: the server's certificate is not signed by the CA in source.tls.ca_file: give the CA certificate that signed it", true
		case errors.As(err, &cv) || strings.Contains(msg, "x509: "):
			return "TLS: the server's certificate was not accepted: check source.tls (ca_file, server_name) and the server's certificate", true
		case tlsFailure(err):
			return "TLS: the handshake with the server failed: check source.tls (mode, ca_file, server_name) and the server's ssl_* settings", false
		case loginRefused(err):
			return loginRefusedHint, false
		}
		return "", false
	}
	if loginRefused(err) {
		if offersTLS != nil && *offersTLS {
			return loginRefusedHint + "; or, as TLS is off (source.tls.mode: disabled) and the server offers it: if the server requires encrypted connections " +
				"(require_secure_transport=ON, or REQUIRE SSL/X509 on the user) it refuses this login as \"access denied\"; " +
				"set source.tls.mode to required, verify-ca or verify-full", false
		}
		return loginRefusedHint, false
	}
	return "", false
}

// loginRefusedHint is what to check when the server refuses the login.
const loginRefusedHint = "the server refused this user name and password: check source.user and source.password " +
	"(BINLAKE_SOURCE_PASSWORD, or BINLAKE_SOURCE_PASSWORD_FILE naming a file), and that the user may connect from this host"

func tlsFailure(err error) bool {
	var (
		cv  *tls.CertificateVerificationError
		rec tls.RecordHeaderError
		ae  tls.AlertError
	)
	if errors.As(err, &cv) || errors.As(err, &rec) || errors.As(err, &ae) {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "x509: ") || strings.Contains(msg, "tls: ")
}

func loginRefused(err error) bool {
	var me *gomysql.MyError
	if errors.As(err, &me) {
		return me.Code == gomysql.ER_ACCESS_DENIED_ERROR
	}
	return strings.Contains(err.Error(), "ERROR 1045 ")
}

// greetingSniffer dials TCP and watches the server's greeting (the first
// packet it sends) for the CLIENT_SSL capability, without changing what
// the client reads.
type greetingSniffer struct {
	mu        sync.Mutex
	offersTLS *bool
}

func (g *greetingSniffer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	d := net.Dialer{Timeout: connectTimeout}
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &sniffConn{Conn: c, g: g}, nil
}

func (g *greetingSniffer) result() *bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.offersTLS
}

type sniffConn struct {
	net.Conn
	g    *greetingSniffer
	buf  []byte
	done bool
}

func (c *sniffConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if !c.done && n > 0 {
		c.buf = append(c.buf, p[:n]...)
		if offers, ok := greetingOffersTLS(c.buf); ok {
			c.g.mu.Lock()
			c.g.offersTLS = &offers
			c.g.mu.Unlock()
			c.done, c.buf = true, nil
		} else if len(c.buf) > 1<<12 {
			c.done, c.buf = true, nil
		}
	}
	return n, err
}

// greetingOffersTLS parses the capability flags of a protocol-10 server
// greeting: ok is false until enough of it has arrived (or when it is not
// a greeting).
func greetingOffersTLS(b []byte) (offers, ok bool) {
	if len(b) < 5 || b[4] != 10 { // header, then protocol version 10
		return false, false
	}
	p := b[5:]
	end := 0
	for end < len(p) && p[end] != 0 { // server version, NUL-terminated
		end++
	}
	// NUL, connection id (4), auth data part 1 (8), filler (1), capability flags (2).
	need := end + 1 + 4 + 8 + 1 + 2
	if len(p) < need {
		return false, false
	}
	caps := uint16(p[need-2]) | uint16(p[need-1])<<8
	return uint32(caps)&gomysql.CLIENT_SSL != 0, true
}
