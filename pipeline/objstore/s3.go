package objstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// S3Config configures an S3 store. Everything not set here comes from the standard AWS chain:
// the environment (AWS_REGION, AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, AWS_PROFILE, ...), the
// shared config and credentials files, and instance or task roles.
type S3Config struct {
	Region   string // empty: from the AWS chain
	Endpoint string // empty: from the AWS chain (AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL) or AWS
	// PathStyle forces path-style (true) or virtual-hosted (false) addressing; nil means
	// path-style exactly when a custom endpoint is in use.
	PathStyle *bool

	// MaxAttempts per request for the SDK retryer (0: 6); MaxBackoff caps its exponential
	// backoff with jitter (0: 5s).
	MaxAttempts int
	MaxBackoff  time.Duration
	// PageSize is MaxKeys for ListObjectsV2 (0: the server's default, 1,000 on AWS).
	PageSize int32
	// PartSize is the multipart part size and threshold for uploads (0: 16 MiB; at least 5 MiB).
	PartSize int64
	// MaxConns is the idle connections kept per host (0: 32).
	MaxConns int

	// Credentials overrides the AWS chain (tests); nil uses the chain.
	Credentials aws.CredentialsProvider
}

// S3 is a Store under s3://bucket/prefix.
type S3 struct {
	client   *s3.Client
	uploader *manager.Uploader
	bucket   string
	prefix   string // "" or ending in "/"
	pageSize int32
}

// MetaSHA256 is the user-metadata key under which Put records the sha256 of the body, so
// that Stat can tell whether an object holds given bytes without reading it.
const MetaSHA256 = "sha256"

// ParseS3 splits s3://bucket/prefix into the bucket and a prefix that is empty or ends in "/".
func ParseS3(location string) (bucket, prefix string, err error) {
	rest, ok := strings.CutPrefix(location, "s3://")
	if !ok {
		return "", "", fmt.Errorf("parse %q: not an s3:// location", location)
	}
	bucket, prefix, _ = strings.Cut(rest, "/")
	if bucket == "" {
		return "", "", fmt.Errorf("parse %q: no bucket", location)
	}
	prefix = strings.TrimLeft(prefix, "/")
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	return bucket, prefix, nil
}

// NewS3 opens s3://bucket/prefix. It does not contact the server.
func NewS3(ctx context.Context, location string, c S3Config) (*S3, error) {
	bucket, prefix, err := ParseS3(location)
	if err != nil {
		return nil, err
	}
	var loadOpts []func(*config.LoadOptions) error
	if c.Region != "" {
		loadOpts = append(loadOpts, config.WithRegion(c.Region))
	}
	if c.Credentials != nil {
		loadOpts = append(loadOpts, config.WithCredentialsProvider(c.Credentials))
	}
	// The HTTP client is tuned on s3.Options below, not here: LoadDefaultConfig refuses a
	// custom client when AWS_CA_BUNDLE is set.
	awsCfg, err := config.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return nil, fmt.Errorf("open %s: load AWS configuration: %w", location, err)
	}
	if awsCfg.Region == "" {
		// S3-compatible servers rarely care; AWS itself redirects clients to the right region.
		awsCfg.Region = "us-east-1"
	}
	maxAttempts, maxBackoff := c.MaxAttempts, c.MaxBackoff
	if maxAttempts <= 0 {
		maxAttempts = 6
	}
	if maxBackoff <= 0 {
		maxBackoff = 5 * time.Second
	}
	maxConns := c.MaxConns
	if maxConns <= 0 {
		maxConns = 32
	}
	client := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if c.Endpoint != "" {
			o.BaseEndpoint = aws.String(c.Endpoint)
		}
		custom := o.BaseEndpoint != nil && *o.BaseEndpoint != ""
		switch {
		case c.PathStyle != nil:
			o.UsePathStyle = *c.PathStyle
		case custom:
			o.UsePathStyle = true
		}
		// objects without a stored checksum (ranged reads, other stores) are normal here
		o.DisableLogOutputChecksumValidationSkipped = true
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
			so.MaxAttempts = maxAttempts
			so.MaxBackoff = maxBackoff
			// a batch job with a bounded pool: no client-side retry quota to run dry
			so.RateLimiter = ratelimit.None
		})
		if bc, ok := o.HTTPClient.(*awshttp.BuildableClient); ok {
			o.HTTPClient = bc.WithTransportOptions(func(tr *http.Transport) {
				tr.MaxIdleConnsPerHost = maxConns
			})
		}
	})
	partSize := c.PartSize
	if partSize <= 0 {
		partSize = 16 << 20
	}
	if partSize < manager.MinUploadPartSize {
		partSize = manager.MinUploadPartSize
	}
	up := manager.NewUploader(client, func(u *manager.Uploader) {
		u.PartSize = partSize
		u.Concurrency = 4
	})
	return &S3{client: client, uploader: up, bucket: bucket, prefix: prefix, pageSize: c.PageSize}, nil
}

// Client is the underlying S3 client (tests, tools).
func (s *S3) Client() *s3.Client { return s.client }

// Bucket and Prefix name where the store lives.
func (s *S3) Bucket() string { return s.bucket }

// Prefix is "" or ends in "/".
func (s *S3) Prefix() string { return s.prefix }

// String names the bucket and prefix, never credentials.
func (s *S3) String() string { return "s3://" + s.bucket + "/" + s.prefix }

func (s *S3) url(key string) string { return "s3://" + s.bucket + "/" + s.prefix + key }

// List pages through ListObjectsV2. Keys are relative to the prefix and sorted in byte
// order; "directory" markers (keys ending in "/") are left out.
func (s *S3) List(ctx context.Context) ([]Object, error) {
	in := &s3.ListObjectsV2Input{Bucket: aws.String(s.bucket)}
	if s.prefix != "" {
		in.Prefix = aws.String(s.prefix)
	}
	if s.pageSize > 0 {
		in.MaxKeys = aws.Int32(s.pageSize)
	}
	var out []Object
	p := s3.NewListObjectsV2Paginator(s.client, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if isNoSuchBucket(err) {
			// a mistyped bucket is a mistake, not an empty source (an existing bucket with
			// nothing under the prefix is one)
			return nil, fmt.Errorf("list %s: %w: %w", s, ErrMissing, err)
		}
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", s, err)
		}
		for _, o := range page.Contents {
			key := strings.TrimPrefix(aws.ToString(o.Key), s.prefix)
			if key == "" || strings.HasSuffix(key, "/") {
				continue
			}
			out = append(out, Object{Key: key, ETag: unquote(aws.ToString(o.ETag)), Size: aws.ToInt64(o.Size)})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

func unquote(etag string) string { return strings.Trim(etag, `"`) }

// Get opens an object. A read that breaks off mid-body is resumed with a ranged GET of the
// same version (If-Match on its ETag), a few times, before the error is returned.
func (s *S3) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(s.prefix + key)})
	if err != nil {
		if isNotFound(err) {
			return nil, fmt.Errorf("get %s: %w", s.url(key), ErrNotFound)
		}
		return nil, fmt.Errorf("get %s: %w", s.url(key), err)
	}
	return &s3Reader{ctx: ctx, s: s, key: key, etag: aws.ToString(out.ETag), body: out.Body}, nil
}

const maxResumes = 3

type s3Reader struct {
	ctx     context.Context
	s       *S3
	key     string
	etag    string
	body    io.ReadCloser
	off     int64
	resumed int
}

// Read reads the body, resuming with a ranged GET when the connection breaks.
func (r *s3Reader) Read(p []byte) (int, error) {
	n, err := r.body.Read(p)
	r.off += int64(n)
	if err == nil || err == io.EOF {
		return n, err
	}
	if r.resumed >= maxResumes || r.ctx.Err() != nil || r.etag == "" {
		return n, fmt.Errorf("read %s: %w", r.s.url(r.key), err)
	}
	r.resumed++
	_ = r.body.Close()
	out, gerr := r.s.client.GetObject(r.ctx, &s3.GetObjectInput{
		Bucket:  aws.String(r.s.bucket),
		Key:     aws.String(r.s.prefix + r.key),
		Range:   aws.String(fmt.Sprintf("bytes=%d-", r.off)),
		IfMatch: aws.String(r.etag),
	})
	if gerr != nil {
		r.body = io.NopCloser(bytes.NewReader(nil))
		r.resumed = maxResumes
		return n, fmt.Errorf("read %s: %w (resuming at byte %d: %v)", r.s.url(r.key), err, r.off, gerr)
	}
	r.body = out.Body
	if n > 0 {
		return n, nil
	}
	return r.Read(p)
}

// Close closes the current body.
func (r *s3Reader) Close() error { return r.body.Close() }

// Put uploads an object through the transfer manager (multipart above the part size),
// recording the body's sha256 in the object's metadata. No ACL is ever set: objects are
// private (the bucket owner's) unless the bucket's own policy says otherwise, which is what
// FORMATS.md asks of restricted/ outputs; never add a public canned ACL here.
func (s *S3) Put(ctx context.Context, key string, body io.ReadSeeker, _ int64, contentType string) error {
	sum, err := hashSeeker(body)
	if err != nil {
		return fmt.Errorf("put %s: %w", s.url(key), err)
	}
	in := &s3.PutObjectInput{
		Bucket:      aws.String(s.bucket),
		Key:         aws.String(s.prefix + key),
		Body:        body,
		ContentType: aws.String(contentType),
		Metadata:    map[string]string{MetaSHA256: sum},
	}
	if _, err := s.uploader.Upload(ctx, in); err != nil {
		return fmt.Errorf("put %s: %w", s.url(key), err)
	}
	return nil
}

func hashSeeker(r io.ReadSeeker) (string, error) {
	start, err := r.Seek(0, io.SeekCurrent)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return "", err
	}
	if _, err := r.Seek(start, io.SeekStart); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Stat returns an object's description and the sha256 recorded when it was put ("" when
// the object was written by something else). A missing key is ErrNotFound.
func (s *S3) Stat(ctx context.Context, key string) (Info, error) {
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(s.prefix + key)})
	if err != nil {
		if isNotFound(err) {
			return Info{}, fmt.Errorf("stat %s: %w", s.url(key), ErrNotFound)
		}
		return Info{}, fmt.Errorf("stat %s: %w", s.url(key), err)
	}
	info := Info{Object: Object{Key: key, ETag: unquote(aws.ToString(out.ETag)), Size: aws.ToInt64(out.ContentLength)},
		ContentType: aws.ToString(out.ContentType)}
	for k, v := range out.Metadata {
		if strings.EqualFold(k, MetaSHA256) {
			info.SHA256 = v
		}
	}
	return info, nil
}

// Delete removes an object; a missing one is not an error.
func (s *S3) Delete(ctx context.Context, key string) error {
	_, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(s.prefix + key)})
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("delete %s: %w", s.url(key), err)
	}
	return nil
}

func isNotFound(err error) bool {
	var nsk *types.NoSuchKey
	var nf *types.NotFound
	if errors.As(err, &nsk) || errors.As(err, &nf) {
		return true
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "NoSuchKey", "NotFound":
			return true
		}
	}
	var re *awshttp.ResponseError
	return errors.As(err, &re) && re.HTTPStatusCode() == http.StatusNotFound && !isNoSuchBucket(err)
}

func isNoSuchBucket(err error) bool {
	var nb *types.NoSuchBucket
	if errors.As(err, &nb) {
		return true
	}
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == "NoSuchBucket"
}

func isPreconditionFailed(err error) bool {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "PreconditionFailed", "ConditionalRequestConflict":
			return true
		}
	}
	var re *awshttp.ResponseError
	return errors.As(err, &re) && (re.HTTPStatusCode() == http.StatusPreconditionFailed || re.HTTPStatusCode() == http.StatusConflict)
}
