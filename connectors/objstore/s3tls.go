package objstore

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
)

// ErrTLSCertificate marks an S3 endpoint whose TLS certificate binlake did
// not accept (not signed by a trusted CA, not valid for the endpoint's host
// name, expired): retrying cannot help until the configuration or the
// certificate changes.
var ErrTLSCertificate = errors.New("the storage's TLS certificate was not accepted")

// probeTLS opens a connection to an https endpoint through tr, which keeps
// it for the requests that follow, so that a certificate binlake does not
// accept fails at once with what to fix, instead of after minio-go's
// retries (it retries certificate errors) with Go's bare x509 message.
// Every other failure is left to the S3 requests to report.
func probeTLS(ctx context.Context, cfg S3Config, tr http.RoundTripper) error {
	ctx, cancel := context.WithTimeout(ctx, cfg.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, "https://"+cfg.Endpoint+"/", nil)
	if err != nil {
		return nil
	}
	resp, err := tr.RoundTrip(req)
	if err != nil {
		return tlsError(cfg, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return nil
}

// tlsError returns err with what to fix when it is a failed TLS handshake
// with the endpoint (wrapping ErrTLSCertificate for a certificate binlake
// did not accept), or nil for any other error.
func tlsError(cfg S3Config, err error) error {
	var (
		ua  x509.UnknownAuthorityError
		he  x509.HostnameError
		ci  x509.CertificateInvalidError
		cv  *tls.CertificateVerificationError
		rec tls.RecordHeaderError
	)
	host := cfg.Endpoint
	if h, _, serr := net.SplitHostPort(cfg.Endpoint); serr == nil {
		host = h
	}
	var hint string
	switch {
	case errors.As(err, &ua) && cfg.CACertFile != "":
		hint = fmt.Sprintf("the server's certificate is not signed by the CA in %s (warehouse.s3.ca_file): give the PEM file of the CA that signed it", cfg.CACertFile)
	case errors.As(err, &ua):
		hint = "the server's certificate is not signed by a CA this machine trusts: give the PEM file of the CA that signed it in warehouse.s3.ca_file"
	case errors.As(err, &he):
		hint = fmt.Sprintf("the server's certificate is not valid for %s, the host in warehouse.s3.endpoint (it is valid for %s): "+
			"give an endpoint by a name the certificate holds", host, certNames(he.Certificate))
	case errors.As(err, &ci):
		hint = "the server's certificate is not valid (" + ci.Error() + "): renew it, or check the server's clock and warehouse.s3.ca_file"
	case errors.As(err, &cv):
		hint = "the server's certificate was not accepted: check warehouse.s3.endpoint, warehouse.s3.ca_file and the server's certificate"
	case errors.As(err, &rec):
		return fmt.Errorf("TLS handshake with %s: %w (the server did not answer in TLS: it may speak plain http: "+
			"set warehouse.s3.use_tls: false, or give its https endpoint)", cfg.Endpoint, err)
	default:
		return nil
	}
	return fmt.Errorf("TLS handshake with %s: %w (%s): %w", cfg.Endpoint, err, hint, ErrTLSCertificate)
}

// certNames lists the names a certificate is valid for.
func certNames(c *x509.Certificate) string {
	if c == nil {
		return "no name known"
	}
	var names []string
	names = append(names, c.DNSNames...)
	for _, ip := range c.IPAddresses {
		names = append(names, ip.String())
	}
	if len(names) == 0 {
		return "no name"
	}
	return strings.Join(names, ", ")
}
