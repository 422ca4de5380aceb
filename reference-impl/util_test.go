package refimpl

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/keyrace/keyrace/client"
)

func readAll(t testing.TB, resp *http.Response) []byte {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func itoa(n int) string { return strconv.Itoa(n) }

// rawRequest sends body as it is with the master key and returns the
// status and the response body.
func rawRequest(t testing.TB, c *client.Client, method, path, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, c.BaseURL()+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testMasterKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, readAll(t, resp)
}
