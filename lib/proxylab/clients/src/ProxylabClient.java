// One request with the JDK's own HTTP clients (java.net.http.HttpClient or
// HttpURLConnection), default proxy selection: the JDK reads proxy *system
// properties* (https.proxyHost, http.nonProxyHosts), never environment variables,
// which is what the matrix measures. Prints one JSON line like the other cell
// programs (lib/proxylab/clients/programs.py). The lab CA reaches Java as plumbing:
// the PEM file SSL_CERT_FILE names is loaded into this process's trust store (the
// JDK does not read that variable either).
import java.io.FileInputStream;
import java.io.InputStream;
import java.net.HttpURLConnection;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.time.Duration;
import javax.net.ssl.HttpsURLConnection;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

public class ProxylabClient {
    static String quote(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            if (c == '"' || c == '\\') b.append('\\').append(c);
            else if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
            else b.append(c);
        }
        return b.append('"').toString();
    }

    static void report(String outcome, int status, String error) {
        if (error.length() > 600) error = error.substring(0, 600);
        System.out.println("{\"outcome\": " + quote(outcome) + ", \"status\": "
                + (status == 0 ? "null" : Integer.toString(status)) + ", \"error\": "
                + quote(error) + ", \"detail\": \"\"}");
    }

    static SSLContext labContext(String pem) throws Exception {
        SSLContext ctx = SSLContext.getInstance("TLS");
        if (pem == null || pem.isEmpty()) {
            ctx.init(null, null, null);
            return ctx;
        }
        KeyStore ks = KeyStore.getInstance(KeyStore.getDefaultType());
        ks.load(null, null);
        try (InputStream in = new FileInputStream(pem)) {
            int i = 0;
            for (Certificate c : CertificateFactory.getInstance("X.509").generateCertificates(in))
                ks.setCertificateEntry("lab" + (i++), c);
        }
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(
                TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(ks);
        ctx.init(null, tmf.getTrustManagers(), null);
        return ctx;
    }

    static String kind(Throwable e) {
        StringBuilder text = new StringBuilder();
        for (Throwable x = e; x != null; x = x.getCause())
            text.append(x.getClass().getSimpleName()).append(": ").append(x.getMessage()).append(" <- ");
        String low = text.toString().toLowerCase();
        if (low.contains("timed out") || low.contains("timeout")) return "timeout";
        if (low.contains("certificate") || low.contains("ssl") || low.contains("pkix")) return "tls_error";
        if (low.contains("unknownhost")) return "dns_error";
        return "other";
    }

    static String chain(Throwable e) {
        StringBuilder text = new StringBuilder();
        for (Throwable x = e; x != null; x = x.getCause())
            text.append(x.getClass().getSimpleName()).append(": ").append(x.getMessage()).append(" <- ");
        return text.toString();
    }

    public static void main(String[] args) {
        if (args.length == 1 && args[0].equals("--version")) {
            System.out.println(System.getProperty("java.version"));
            return;
        }
        String mode = args[0], url = args[1];
        long ms = (long) (Double.parseDouble(args[2]) * 1000);
        try {
            SSLContext ctx = labContext(System.getenv("SSL_CERT_FILE"));
            int status;
            if (mode.equals("httpclient")) {
                HttpClient client = HttpClient.newBuilder().sslContext(ctx)
                        .connectTimeout(Duration.ofMillis(ms)).build();
                HttpRequest req = HttpRequest.newBuilder(URI.create(url))
                        .timeout(Duration.ofMillis(ms)).GET().build();
                status = client.send(req, HttpResponse.BodyHandlers.discarding()).statusCode();
            } else {
                HttpsURLConnection.setDefaultSSLSocketFactory(ctx.getSocketFactory());
                HttpURLConnection conn = (HttpURLConnection) URI.create(url).toURL().openConnection();
                conn.setConnectTimeout((int) ms);
                conn.setReadTimeout((int) ms);
                status = conn.getResponseCode();
                conn.disconnect();
            }
            report(status < 400 ? "ok" : "http_error", status, "");
        } catch (Exception e) {
            report(kind(e), 0, chain(e));
        }
    }
}
