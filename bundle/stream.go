package bundle

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// The policies and the grants (and, for the decision engine, the
// entities: DecodeOptions.Entities) are read as they stream out of the
// archive, element by element, rather than held whole and unmarshalled
// afterwards: a million identities' bundle has a grants.json of more than
// 100 MB, and holding its bytes, the buffer encoding/json copies them
// into and the decoded grants all at once cost three times the grants'
// memory, during an activation that already holds a serving snapshot. A
// goroutine decodes while the archive goes on inflating, so the two use
// two processors.
//
// Nothing decoded is trusted before the file's hash is checked: Decode
// reports a decoding error only once SHA256SUMS, the digest, the
// signature and the manifest have passed, as it did when it unmarshalled
// whole files, and every byte of the file is hashed whether or not it
// decodes.

// streamed is a list file decoded as it was read.
type streamed[T any] struct {
	list []T
	// err is why the content did not decode; Decode reports it once the
	// file's hash has been checked.
	err error
}

// streamList reads a file of size bytes from r, hashing it, and decodes
// it on another goroutine as a JSON list into out. It returns the file's
// SHA-256; an error reading r is returned, one decoding it is kept in
// out.err.
func streamList[T any](r io.Reader, size int64, out *streamed[T]) ([sha256.Size]byte, error) {
	return streamTo(r, size, func(pr io.Reader, size int64) {
		out.list, out.err = decodeList[T](pr, int(size/elementSize))
	})
}

// streamTo reads a file of size bytes from r, hashing it, and has read
// read it on another goroutine as it is read. It returns the file's
// SHA-256 or the error reading r.
func streamTo(r io.Reader, size int64, read func(r io.Reader, size int64)) ([sha256.Size]byte, error) {
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		read(pr, size)
		// The rest is read, so that the writer below never blocks: it
		// hashes every byte whatever the reader made of them.
		_, _ = io.Copy(io.Discard, pr)
	}()
	h := sha256.New()
	_, err := io.CopyBuffer(io.MultiWriter(h, pw), r, make([]byte, 256<<10))
	pw.CloseWithError(err)
	<-done
	if err != nil {
		return [sha256.Size]byte{}, err
	}
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return sum, nil
}

// elementSize is about the least size of a policy or a grant in JSON: a
// list file of n bytes is given room for n/elementSize elements at
// first, so that a large list is rarely copied as it grows, and room
// never takes more memory than the file's size (a policy or a grant
// takes less than elementSize bytes of memory, its strings apart).
const elementSize = 192

// decodeList decodes a JSON array of T from r, one element at a time,
// into a list with room for capacity elements, refusing unknown fields
// and trailing data as strictUnmarshal does; null is the empty list, as
// encoding/json unmarshals it into a slice.
func decodeList[T any](r io.Reader, capacity int) ([]T, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	var list []T
	switch tok {
	case nil:
	case json.Delim('['):
		list = make([]T, 0, capacity)
		in := interner{}
		var raw json.RawMessage
		for dec.More() {
			if err := dec.Decode(&raw); err != nil {
				return nil, err
			}
			list = append(list, *new(T))
			e := &list[len(list)-1]
			if f, ok := any(e).(fastElement); ok && f.readFast(raw, in) {
				continue
			}
			*e = *new(T)
			if err := strictUnmarshal(raw, e); err != nil {
				return nil, err
			}
		}
		if _, err := dec.Token(); err != nil {
			if errors.Is(err, io.EOF) {
				// The list was begun: its file ends too soon.
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
	default:
		return nil, fmt.Errorf("json: cannot unmarshal %s into Go value of type %T", kindOf(tok), list)
	}
	if dec.More() {
		return nil, errors.New("trailing data after the JSON value")
	}
	return list, nil
}

// kindOf names the kind of JSON value tok starts, as encoding/json's
// errors do.
func kindOf(tok json.Token) string {
	switch tok.(type) {
	case json.Delim:
		return "object"
	case bool:
		return "bool"
	case float64, json.Number:
		return "number"
	case string:
		return "string"
	}
	return fmt.Sprintf("%T", tok)
}
