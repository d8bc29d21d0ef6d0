// Package s3test runs a real S3-compatible server (versitygw, posix backend) for tests: it
// installs the pinned version into the repository's .cache/bin when missing, starts it on
// 127.0.0.1 with a free port and a temporary data directory, and stops it.
package s3test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/creditmeter/creditmeter/pipeline/objstore"
)

// Version is the versitygw release the tests run against.
const Version = "v1.8.0"

// Credentials of the server's root user (test-only values).
const (
	AccessKey = "creditmeter-test"
	SecretKey = "creditmeter-test-secret"
	Region    = "us-east-1"
)

// Server is a running versitygw.
type Server struct {
	URL     string // http://127.0.0.1:PORT
	Addr    string // 127.0.0.1:PORT
	DataDir string
	bin     string
	ownData bool

	mu  sync.Mutex
	cmd *exec.Cmd
	log *os.File
}

// RepoRoot finds the directory of go.mod above the working directory.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// Binary returns the versitygw executable: $CREDITMETER_VERSITYGW, else .cache/bin/versitygw
// in the repository, installed there with `go install` when missing (under a file lock, so
// that test binaries of several packages do not install it twice at once).
func Binary() (string, error) {
	if p := os.Getenv("CREDITMETER_VERSITYGW"); p != "" {
		return p, nil
	}
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(root, ".cache", "bin")
	bin := filepath.Join(dir, "versitygw")
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	lock, err := os.OpenFile(filepath.Join(dir, ".install.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", err
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN) //nolint:errcheck
	if _, err := os.Stat(bin); err == nil {
		return bin, nil // installed by another process meanwhile
	}
	fmt.Fprintf(os.Stderr, "s3test: installing versitygw %s into %s (a few minutes, once)\n", Version, dir)
	cmd := exec.Command("go", "install", "github.com/versity/versitygw/cmd/versitygw@"+Version)
	cmd.Env = append(os.Environ(), "GOBIN="+dir, "GOFLAGS=-buildvcs=false")
	cmd.Dir = os.TempDir() // outside this module: @version installs ignore go.mod anyway
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go install versitygw@%s: %v\n%s", Version, err, out)
	}
	return bin, nil
}

// Start installs (if needed) and starts a server on a free port with a new data directory
// (removed by Stop).
func Start() (*Server, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	data, err := os.MkdirTemp("", "creditmeter-s3-")
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &Server{bin: bin, DataDir: data, ownData: true, Addr: "127.0.0.1:" + strconv.Itoa(port)}
	s.URL = "http://" + s.Addr
	if err := s.start(); err != nil {
		_ = os.RemoveAll(data)
		return nil, err
	}
	return s, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	log, err := os.CreateTemp("", "creditmeter-s3-log-")
	if err != nil {
		return err
	}
	cmd := exec.Command(s.bin, "--port", s.Addr, "--health", "/health", "--quiet", "posix", s.DataDir)
	cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY="+AccessKey, "ROOT_SECRET_KEY="+SecretKey, "VGW_REGION="+Region)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = procAttr()
	if err := cmd.Start(); err != nil {
		_ = log.Close()
		return fmt.Errorf("start versitygw: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	s.cmd, s.log = cmd, log
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			out, _ := os.ReadFile(log.Name())
			return fmt.Errorf("versitygw exited at start: %v\n%s", err, out)
		default:
		}
		resp, err := http.Get(s.URL + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				go func() { <-exited }()
				return nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
	return errors.New("versitygw did not become healthy within 15s")
}

// Kill stops the server abruptly (as a crash would), keeping its data.
func (s *Server) Kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
		for i := 0; i < 100; i++ { // wait until the port is free
			c, err := net.DialTimeout("tcp", s.Addr, 50*time.Millisecond)
			if err != nil {
				break
			}
			c.Close()
			time.Sleep(20 * time.Millisecond)
		}
	}
	s.cmd = nil
	if s.log != nil {
		_ = s.log.Close()
		_ = os.Remove(s.log.Name())
		s.log = nil
	}
}

// Restart starts the server again on the same address and data.
func (s *Server) Restart() error {
	s.Kill()
	return s.start()
}

// Stop kills the server and removes its data.
func (s *Server) Stop() {
	s.Kill()
	if s.ownData {
		_ = os.RemoveAll(s.DataDir)
	}
}

// Env is the environment that points the AWS chain (and so creditmeter) at the server.
func (s *Server) Env() []string {
	return []string{
		"AWS_ACCESS_KEY_ID=" + AccessKey,
		"AWS_SECRET_ACCESS_KEY=" + SecretKey,
		"AWS_REGION=" + Region,
		"AWS_ENDPOINT_URL_S3=" + s.URL,
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE=" + os.DevNull,
		"AWS_SHARED_CREDENTIALS_FILE=" + os.DevNull,
	}
}

// Config is an objstore.S3Config for the server, with quick retries.
func (s *Server) Config() objstore.S3Config {
	return objstore.S3Config{
		Region:      Region,
		Endpoint:    s.URL,
		Credentials: credentials.NewStaticCredentialsProvider(AccessKey, SecretKey, ""),
		MaxAttempts: 3,
		MaxBackoff:  200 * time.Millisecond,
	}
}

// Store opens s3://bucket/prefix on the server.
func (s *Server) Store(ctx context.Context, location string) (*objstore.S3, error) {
	return objstore.NewS3(ctx, location, s.Config())
}

// Bucket creates a bucket (an existing one is fine).
func (s *Server) Bucket(ctx context.Context, name string) error {
	st, err := s.Store(ctx, "s3://"+name)
	if err != nil {
		return err
	}
	_, err = st.Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)})
	var owned interface{ ErrorCode() string }
	if errors.As(err, &owned) && (owned.ErrorCode() == "BucketAlreadyOwnedByYou" || owned.ErrorCode() == "BucketAlreadyExists") {
		return nil
	}
	return err
}
