package testenv

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// MinIOOptions are the settings of StartMinIOWith.
type MinIOOptions struct {
	// TLS generates a throwaway CA and a server certificate signed by it
	// (in t.TempDir()) and starts the server with them in its --certs-dir:
	// it then answers https only. MinIO.CAFile names the CA.
	TLS bool
	// CertHosts are the DNS names and IP addresses the server's certificate
	// is valid for (with TLS); empty: 127.0.0.1, ::1 and localhost. A test
	// of host name verification leaves out the name it connects by.
	CertHosts []string
}

// minioTLS is a MinIO server's TLS setup: its PEM files, and the name the
// harness checks when it connects to 127.0.0.1.
type minioTLS struct {
	files *tlsFiles
	name  string
	pool  *x509.CertPool
}

// serverTLS writes the CA and server certificate the options ask for under
// dir; nil without TLS.
func (o MinIOOptions) serverTLS(dir string) (*minioTLS, error) {
	if !o.TLS {
		if len(o.CertHosts) > 0 {
			return nil, fmt.Errorf("CertHosts %v given without TLS", o.CertHosts)
		}
		return nil, nil
	}
	var (
		f   *tlsFiles
		err error
	)
	name := "127.0.0.1"
	if len(o.CertHosts) == 0 {
		f, err = writeServerTLS(dir)
	} else {
		var dns []string
		var ips []net.IP
		for _, h := range o.CertHosts {
			if ip := net.ParseIP(h); ip != nil {
				ips = append(ips, ip)
			} else {
				dns = append(dns, h)
			}
		}
		f, err = writeServerTLSFor(dir, dns, ips)
		name = o.CertHosts[0]
	}
	if err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	pem, err := os.ReadFile(f.ca)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("tls: %s holds no certificate", f.ca)
	}
	return &minioTLS{files: f, name: name, pool: pool}, nil
}

// install copies the server's certificate and key into certsDir as MinIO
// wants them (public.crt, private.key). Without TLS it does nothing.
func (s *minioTLS) install(certsDir string) error {
	if s == nil {
		return nil
	}
	if err := os.MkdirAll(certsDir, 0o700); err != nil {
		return err
	}
	for src, dst := range map[string]string{s.files.cert: "public.crt", s.files.key: "private.key"} {
		b, err := os.ReadFile(src)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(certsDir, dst), b, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// clientConfig is how the harness connects: trusting the test CA and
// checking a name the certificate holds. nil without TLS.
func (s *minioTLS) clientConfig() *tls.Config {
	if s == nil {
		return nil
	}
	return &tls.Config{RootCAs: s.pool, ServerName: s.name, MinVersion: tls.VersionTLS12}
}

// httpClient returns an HTTP client for the server: plain, or over TLS
// with tc.
func httpClient(tc *tls.Config, timeout time.Duration) *http.Client {
	if tc == nil {
		return &http.Client{Timeout: timeout}
	}
	return &http.Client{Timeout: timeout, Transport: &http.Transport{TLSClientConfig: tc.Clone()}}
}
