// One request with Go's net/http and nothing but the standard library: the
// default transport's Proxy is http.ProxyFromEnvironment, which is what the
// matrix measures. Prints one JSON line like the other cell programs
// (lib/proxylab/clients/programs.py): {"outcome", "status", "error", "detail"};
// "detail" is the proxy ProxyFromEnvironment chose (empty: none), for the report.
// The lab CA reaches Go through SSL_CERT_FILE (crypto/x509 reads it on Linux).
package main

import (
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

func report(outcome string, status int, errText, detail string) {
	out := map[string]interface{}{"outcome": outcome, "status": nil, "error": errText, "detail": detail}
	if status != 0 {
		out["status"] = status
	}
	if len(errText) > 600 {
		out["error"] = errText[:600]
	}
	b, _ := json.Marshal(out)
	os.Stdout.Write(append(b, '\n'))
}

func kind(err error) string {
	var ne net.Error
	low := strings.ToLower(err.Error())
	switch {
	case errors.As(err, &ne) && ne.Timeout(), strings.Contains(low, "timeout"):
		return "timeout"
	case strings.Contains(low, "x509") || strings.Contains(low, "tls"):
		return "tls_error"
	case strings.Contains(low, "no such host"):
		return "dns_error"
	}
	return "other"
}

func main() {
	url := os.Args[1]
	limit, _ := strconv.ParseFloat(os.Args[2], 64)
	detail := ""
	if req, err := http.NewRequest("GET", url, nil); err == nil {
		if p, perr := http.ProxyFromEnvironment(req); perr == nil && p != nil {
			detail = "proxy " + p.Redacted()
		}
	}
	client := &http.Client{Timeout: time.Duration(limit * float64(time.Second))}
	resp, err := client.Get(url)
	if err != nil {
		report(kind(err), 0, err.Error(), detail)
		return
	}
	defer resp.Body.Close()
	outcome := "ok"
	if resp.StatusCode >= 400 {
		outcome = "http_error"
	}
	report(outcome, resp.StatusCode, "", detail)
}
