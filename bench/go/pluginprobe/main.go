// Command pluginprobe does the parts of SparkFlow's start-up benchmark that
// need Terraform's own TLS stack (Go crypto/tls, as go-plugin uses it):
//
//	pluginprobe gencert CERT_PEM KEY_PEM
//	    Writes a client certificate and key made like go-plugin's AutoMTLS
//	    certificate (ECDSA P-521, self-signed CA, CN/SAN localhost, client and
//	    server auth).  Its PEM is what the benchmarks put in PLUGIN_CLIENT_CERT.
//
//	pluginprobe serve RUNS CERT_PEM KEY_PEM LABEL:PROTOS:PATH...
//	    For each target, RUNS times: start the provider with go-plugin's
//	    environment, read the handshake line, connect over mutual TLS (server
//	    certificate from the line), call GetProviderSchema (tfplugin6) or
//	    GetSchema (tfplugin5) as Terraform does first, read VmHWM/VmRSS from
//	    /proc/<pid>/status, then stop it with plugin.GRPCController/Shutdown
//	    (killed if it has not exited 3 s later).  Prints one JSON object:
//	    {LABEL: {"hwm_kb": [...], "rss_kb": [...], "rss_anon_kb": [...],
//	    "rss_file_kb": [...], "first_rpc_ms": [...], "schema_bytes": N,
//	    "shutdown_clean": [...]}}.
//
// A Python gRPC client cannot do the second part: its TLS library does not
// offer the P-521 signature scheme that go-plugin's server certificate needs.
package main

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

const magicCookie = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2"

var schemaMethod = map[string]string{
	"5": "/tfplugin5.Provider/GetSchema",
	"6": "/tfplugin6.Provider/GetProviderSchema",
}

func genCert(certPath, keyPath string) error {
	key, err := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	if err != nil {
		return err
	}
	sn, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: "localhost", Organization: []string{"SparkFlow bench"}},
		DNSNames:              []string{"localhost"},
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment | x509.KeyUsageKeyAgreement | x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		SerialNumber:          sn,
		NotBefore:             now.Add(-30 * time.Second),
		NotAfter:              now.Add(24 * time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return err
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		return err
	}
	return os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
}

// rawCodec passes message bytes through untouched: the probe needs no
// generated protobuf code, only the sizes and the fact that calls succeed.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) { return *(v.(*[]byte)), nil }
func (rawCodec) Unmarshal(data []byte, v any) error {
	p := v.(*[]byte)
	*p = append((*p)[:0], data...)
	return nil
}
func (rawCodec) Name() string { return "proto" }

func pluginEnv(protos string, certPEM []byte) []string {
	drop := []string{"TF_PLUGIN_MAGIC_COOKIE=", "PLUGIN_MIN_PORT=", "PLUGIN_MAX_PORT=",
		"PLUGIN_PROTOCOL_VERSIONS=", "PLUGIN_CLIENT_CERT=", "TF_DISABLE_PLUGIN_TLS="}
	var env []string
next:
	for _, kv := range os.Environ() {
		for _, d := range drop {
			if strings.HasPrefix(kv, d) {
				continue next
			}
		}
		env = append(env, kv)
	}
	return append(env, "TF_PLUGIN_MAGIC_COOKIE="+magicCookie, "PLUGIN_MIN_PORT=10000",
		"PLUGIN_MAX_PORT=25000", "PLUGIN_PROTOCOL_VERSIONS="+protos,
		"PLUGIN_CLIENT_CERT="+string(certPEM))
}

// statusKB returns the kB values of /proc/<pid>/status, by field name
// ("VmHWM", "VmRSS", "RssAnon", "RssFile", ...).
func statusKB(pid int) (map[string]int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil, err
	}
	kb := map[string]int64{}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 3 && f[2] == "kB" {
			kb[strings.TrimSuffix(f[0], ":")], _ = strconv.ParseInt(f[1], 10, 64)
		}
	}
	return kb, nil
}

type result struct {
	mem         map[string]int64
	firstRPCms  float64
	schemaBytes int
	cleanExit   bool
}

func oneRun(protos, path string, certPEM []byte, clientCert tls.Certificate, errFile string) (result, error) {
	var res result
	stderr, err := os.Create(errFile)
	if err != nil {
		return res, err
	}
	defer stderr.Close()
	cmd := exec.Command(path)
	cmd.Env = pluginEnv(protos, certPEM)
	cmd.Stderr = stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // its own group: nothing outlives the run
	out, err := cmd.StdoutPipe()
	if err != nil {
		return res, err
	}
	if err := cmd.Start(); err != nil {
		return res, err
	}
	exited := make(chan error, 1)
	waited := false
	defer func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		if !waited {
			<-exited
		}
	}()
	lineCh := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(out).ReadString('\n')
		lineCh <- line
		exited <- cmd.Wait()
	}()
	var line string
	select {
	case line = <-lineCh:
	case <-time.After(30 * time.Second):
		return res, errors.New("no handshake line within 30 s")
	}
	f := strings.Split(strings.TrimSpace(line), "|")
	if len(f) != 6 || f[4] != "grpc" || len(f[5]) <= 50 {
		return res, fmt.Errorf("unexpected handshake line: %.200q", line)
	}
	method, ok := schemaMethod[f[1]]
	if !ok {
		return res, fmt.Errorf("provider chose protocol %s", f[1])
	}
	der, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(f[5], "="))
	if err != nil {
		return res, fmt.Errorf("server certificate: %v", err)
	}
	serverCert, err := x509.ParseCertificate(der)
	if err != nil {
		return res, fmt.Errorf("server certificate: %v", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(serverCert)
	creds := credentials.NewTLS(&tls.Config{
		Certificates: []tls.Certificate{clientCert},
		RootCAs:      pool,
		ServerName:   "localhost",
		MinVersion:   tls.VersionTLS12,
	})
	target := f[3]
	if f[2] == "unix" {
		target = "unix://" + f[3]
	}
	conn, err := grpc.NewClient(target, grpc.WithTransportCredentials(creds),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(256<<20), grpc.ForceCodec(rawCodec{})))
	if err != nil {
		return res, err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, resp := []byte{}, []byte{}
	t0 := time.Now()
	if err := conn.Invoke(ctx, method, &req, &resp); err != nil {
		return res, fmt.Errorf("%s: %v", method, err)
	}
	res.firstRPCms = float64(time.Since(t0).Microseconds()) / 1e3
	res.schemaBytes = len(resp)
	if res.mem, err = statusKB(cmd.Process.Pid); err != nil {
		return res, err
	}
	var empty []byte
	conn.Invoke(ctx, "/plugin.GRPCController/Shutdown", &req, &empty) // it may exit before answering
	select {
	case <-exited:
		waited = true
		res.cleanExit = true
	case <-time.After(3 * time.Second):
	}
	return res, nil
}

type record struct {
	HwmKB         []int64   `json:"hwm_kb"`
	RssKB         []int64   `json:"rss_kb"`
	RssAnonKB     []int64   `json:"rss_anon_kb"`
	RssFileKB     []int64   `json:"rss_file_kb"`
	FirstRPCms    []float64 `json:"first_rpc_ms"`
	SchemaBytes   int       `json:"schema_bytes"`
	ShutdownClean []bool    `json:"shutdown_clean"`
}

func serve(args []string) error {
	if len(args) < 4 {
		return errors.New("usage: pluginprobe serve RUNS CERT_PEM KEY_PEM LABEL:PROTOS:PATH...")
	}
	runs, err := strconv.Atoi(args[0])
	if err != nil || runs < 1 {
		return fmt.Errorf("bad RUNS %q", args[0])
	}
	certPEM, err := os.ReadFile(args[1])
	if err != nil {
		return err
	}
	clientCert, err := tls.LoadX509KeyPair(args[1], args[2])
	if err != nil {
		return err
	}
	errDir := os.Getenv("BENCH_STDERR_DIR")
	if errDir == "" {
		errDir = "."
	}
	out := map[string]*record{}
	for _, spec := range args[3:] {
		parts := strings.SplitN(spec, ":", 3)
		if len(parts) != 3 {
			return fmt.Errorf("bad target %q", spec)
		}
		label, protos, path := parts[0], parts[1], parts[2]
		rec := &record{}
		out[label] = rec
		errFile := filepath.Join(errDir, label+".serve.stderr")
		for i := 0; i < runs; i++ {
			r, err := oneRun(protos, path, certPEM, clientCert, errFile)
			if err != nil {
				tail, _ := os.ReadFile(errFile)
				if len(tail) > 2000 {
					tail = tail[len(tail)-2000:]
				}
				return fmt.Errorf("%s: %v\n--- stderr ---\n%s", label, err, tail)
			}
			rec.HwmKB = append(rec.HwmKB, r.mem["VmHWM"])
			rec.RssKB = append(rec.RssKB, r.mem["VmRSS"])
			rec.RssAnonKB = append(rec.RssAnonKB, r.mem["RssAnon"])
			rec.RssFileKB = append(rec.RssFileKB, r.mem["RssFile"])
			rec.FirstRPCms = append(rec.FirstRPCms, r.firstRPCms)
			rec.SchemaBytes = r.schemaBytes
			rec.ShutdownClean = append(rec.ShutdownClean, r.cleanExit)
		}
	}
	return json.NewEncoder(os.Stdout).Encode(out)
}

func main() {
	var err error
	switch {
	case len(os.Args) == 4 && os.Args[1] == "gencert":
		err = genCert(os.Args[2], os.Args[3])
	case len(os.Args) >= 2 && os.Args[1] == "serve":
		err = serve(os.Args[2:])
	default:
		err = errors.New("usage: pluginprobe gencert CERT KEY | serve RUNS CERT KEY LABEL:PROTOS:PATH...")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "pluginprobe:", err)
		os.Exit(1)
	}
}
