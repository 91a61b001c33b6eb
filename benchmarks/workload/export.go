package workload

import (
	"bytes"
	"encoding/json"
	"fmt"

	"google.golang.org/protobuf/encoding/protojson"

	pb "github.com/cedargate/cedargate/proto/cedargate/v1"
)

// GHZData renders requests as ghz's --data-file wants them: a JSON array
// of messages in protobuf's JSON mapping. For a unary call ghz sends the
// elements in turn, round robin. With batch > 0 every element is a
// BatchAuthorizeRequest of batch consecutive requests (wrapping around).
func GHZData(reqs []*pb.AuthorizeRequest, batch int) ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('[')
	opts := protojson.MarshalOptions{}
	n := len(reqs)
	if batch > 0 {
		n = max(1, len(reqs)/batch)
	}
	for i := range n {
		if i > 0 {
			b.WriteString(",\n")
		}
		var data []byte
		var err error
		if batch > 0 {
			br := &pb.BatchAuthorizeRequest{}
			for j := range batch {
				br.Requests = append(br.Requests, reqs[(i*batch+j)%len(reqs)])
			}
			data, err = opts.Marshal(br)
		} else {
			data, err = opts.Marshal(reqs[i])
		}
		if err != nil {
			return nil, err
		}
		// protojson varies its whitespace on purpose; compacting makes
		// the file byte-identical from run to run.
		if err := json.Compact(&b, data); err != nil {
			return nil, err
		}
	}
	b.WriteString("]\n")
	return b.Bytes(), nil
}

// OPAInputs renders requests as OPA's REST API takes them, one
// {"input": ...} document per line.
func OPAInputs(reqs []*pb.AuthorizeRequest) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	for _, r := range reqs {
		if err := enc.Encode(map[string]OPAInput{"input": ToOPAInput(r)}); err != nil {
			return nil, fmt.Errorf("encoding OPA input: %w", err)
		}
	}
	return b.Bytes(), nil
}
