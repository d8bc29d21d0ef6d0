package objstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

// s3Lock is the lock backend of S3: conditional writes on the lock object's ETag.
type s3Lock struct {
	s   *S3
	key string
}

func (s *S3) lockBackend(key string) lockBackend { return &s3Lock{s: s, key: key} }

func (l *s3Lock) read(ctx context.Context) ([]byte, string, error) {
	out, err := l.s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(l.s.bucket), Key: aws.String(l.s.prefix + l.key)})
	if err != nil {
		if isNotFound(err) {
			return nil, "", ErrNotFound
		}
		return nil, "", err
	}
	defer out.Body.Close()
	data, err := io.ReadAll(io.LimitReader(out.Body, 1<<16))
	if err != nil {
		return nil, "", err
	}
	return data, aws.ToString(out.ETag), nil
}

func (l *s3Lock) put(ctx context.Context, data []byte, ifNoneMatch, ifMatch *string) (string, error) {
	out, err := l.s.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:      aws.String(l.s.bucket),
		Key:         aws.String(l.s.prefix + l.key),
		Body:        bytes.NewReader(data), // seekable: plain-http endpoints need it
		ContentType: aws.String("application/json"),
		IfNoneMatch: ifNoneMatch,
		IfMatch:     ifMatch,
	})
	if err != nil {
		if isPreconditionFailed(err) || (ifMatch != nil && isNotFound(err)) {
			return "", errConflict
		}
		return "", err
	}
	return aws.ToString(out.ETag), nil
}

func (l *s3Lock) create(ctx context.Context, data []byte) (string, error) {
	return l.put(ctx, data, aws.String("*"), nil)
}

func (l *s3Lock) replace(ctx context.Context, data []byte, version string) (string, error) {
	return l.put(ctx, data, nil, aws.String(version))
}

func (l *s3Lock) remove(ctx context.Context, version string) error {
	in := &s3.DeleteObjectInput{Bucket: aws.String(l.s.bucket), Key: aws.String(l.s.prefix + l.key), IfMatch: aws.String(version)}
	_, err := l.s.client.DeleteObject(ctx, in)
	if err == nil || isNotFound(err) {
		return nil
	}
	if isPreconditionFailed(err) {
		return errConflict
	}
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorCode() == "NotImplemented" {
		// a server without conditional deletes: check, then delete
		_, cur, rerr := l.read(ctx)
		if errors.Is(rerr, ErrNotFound) {
			return nil
		}
		if rerr != nil {
			return rerr
		}
		if cur != version {
			return errConflict
		}
		in.IfMatch = nil
		if _, err := l.s.client.DeleteObject(ctx, in); err != nil && !isNotFound(err) {
			return fmt.Errorf("delete: %w", err)
		}
		return nil
	}
	return err
}
