using System.Net;
using System.Net.Http.Headers;
using System.Text;
using MergeQueue.Data;
using MergeQueue.Service.Webhooks;
using Microsoft.Extensions.DependencyInjection;

namespace MergeQueue.EndToEnd.Tests;

/// <summary><c>POST /webhooks/github</c> per CONTRACT §2: every refusal says why, and nothing accepted is lost.</summary>
public class WebhookIntakeTests
{
    private static ServiceTester _t = null!;
    private static HttpClient _http = null!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _t = await ServiceTester.StartAsync();
        _http = new HttpClient { BaseAddress = _t.ServiceUrl };
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        _http.Dispose();
        await _t.DisposeAsync();
    }

    private static HttpRequestMessage Delivery(string eventName, string body, string? signature = "sign", string? id = null)
    {
        var bytes = Encoding.UTF8.GetBytes(body);
        var request = new HttpRequestMessage(HttpMethod.Post, "webhooks/github") { Content = new ByteArrayContent(bytes) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        request.Headers.Add("X-GitHub-Event", eventName);
        request.Headers.Add("X-GitHub-Delivery", id ?? Guid.NewGuid().ToString());
        if (signature == "sign") request.Headers.Add("X-Hub-Signature-256", WebhookSignature.Sign(bytes, ServiceTester.Secret));
        else if (signature is not null) request.Headers.Add("X-Hub-Signature-256", signature);
        return request;
    }

    [Test]
    public async Task Intake_NoSignature_Is401()
    {
        var response = await _http.SendAsync(Delivery("ping", "{}", signature: null));
        response.StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        (await response.Content.ReadAsStringAsync()).Should().Contain("X-Hub-Signature-256");
    }

    [TestCase("sha256=0000000000000000000000000000000000000000000000000000000000000000")]
    [TestCase("sha1=abc")]
    [TestCase("garbage")]
    public async Task Intake_WrongSignature_Is401(string signature)
    {
        var response = await _http.SendAsync(Delivery("ping", "{}", signature));
        response.StatusCode.Should().Be(HttpStatusCode.Unauthorized);
    }

    [TestCase("{not json")]
    [TestCase("[1,2,3]")]
    [TestCase("")]
    public async Task Intake_MalformedJson_Is400WithTheReason(string body)
    {
        var response = await _http.SendAsync(Delivery("pull_request", body));
        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        (await response.Content.ReadAsStringAsync()).Should().MatchRegex("malformed JSON|JSON object");
    }

    [TestCase("{\"action\":\"opened\",\"repository\":{\"full_name\":\"a/b/c\"}}", "repository.full_name")]
    [TestCase("{\"action\":\"opened\",\"repository\":{\"full_name\":\"/x\"}}", "repository.full_name")]
    [TestCase("{\"action\":\"\\ud800\"}", "not valid Unicode")]
    public async Task Intake_SignedButUnusable_Is400WithTheReason(string body, string why)
    {
        var response = await _http.SendAsync(Delivery("pull_request", body));
        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        (await response.Content.ReadAsStringAsync()).Should().Contain(why);
    }

    [Test]
    public async Task Intake_MissingDeliveryHeader_Is400()
    {
        var request = Delivery("ping", "{}");
        request.Headers.Remove("X-GitHub-Delivery");
        var response = await _http.SendAsync(request);
        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
    }

    [Test]
    public async Task Intake_MalformedSignature_Is401BeforeTheBodyIsRead()
    {
        foreach (var signature in new[] { "sha256=00", "sha1=" + new string('a', 40), "sha256=" + new string('g', 64), "sha256=" + new string('a', 65) })
        {
            // Raw HTTP/1.1 with Expect: 100-continue and no body sent: a server that reads the body would
            // first answer "100 Continue" and then wait for the body.
            using var tcp = new System.Net.Sockets.TcpClient();
            await tcp.ConnectAsync(_t.ServiceUrl.Host, _t.ServiceUrl.Port);
            var stream = tcp.GetStream();
            var head = $"POST /webhooks/github HTTP/1.1\r\nHost: {_t.ServiceUrl.Authority}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n"
                + $"Expect: 100-continue\r\nX-GitHub-Event: ping\r\nX-GitHub-Delivery: {Guid.NewGuid()}\r\nX-Hub-Signature-256: {signature}\r\n\r\n";
            await stream.WriteAsync(Encoding.ASCII.GetBytes(head));
            var buffer = new byte[4096];
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            var read = await stream.ReadAsync(buffer, timeout.Token);
            var answer = Encoding.ASCII.GetString(buffer, 0, read);
            answer.Should().StartWith("HTTP/1.1 401", $"a request signed '{signature}' cannot be GitHub's: its body is not worth reading");
        }
    }

    [Test]
    public async Task Intake_BodyOver25MB_Is413()
    {
        var body = "{\"x\":\"" + new string('a', 26 * 1024 * 1024) + "\"}";
        var request = Delivery("push", body, signature: "sha256=00");
        // As GitHub's client would, wait for the server's go-ahead: Kestrel refuses by Content-Length before the body is sent.
        request.Headers.ExpectContinue = true;
        var response = await _http.SendAsync(request);
        response.StatusCode.Should().Be(HttpStatusCode.RequestEntityTooLarge);
    }

    [Test]
    public async Task Intake_UnknownEvent_IsAcceptedAndIgnored()
    {
        var id = Guid.NewGuid().ToString();
        var response = await _http.SendAsync(Delivery("deployment", """{"repository":{"full_name":"acme/widgets"}}""", id: id));
        response.StatusCode.Should().Be(HttpStatusCode.Accepted);
        await _t.SettleDeliveriesAsync();
        var stored = await _t.Service.Services.GetRequiredService<WebhookInbox>().GetAsync(id);
        stored!.Outcome.Should().StartWith("ignored");
    }

    [Test]
    public async Task Intake_SameDeliveryTwice_IsStoredAndHandledOnce()
    {
        var id = Guid.NewGuid().ToString();
        var first = await _http.SendAsync(Delivery("ping", "{\"zen\":\"hi\"}", id: id));
        var second = await _http.SendAsync(Delivery("ping", "{\"zen\":\"hi\"}", id: id));
        first.StatusCode.Should().Be(HttpStatusCode.Accepted);
        second.StatusCode.Should().Be(HttpStatusCode.Accepted);
        (await second.Content.ReadAsStringAsync()).Should().Contain("\"duplicate\":true");
        await _t.SettleDeliveriesAsync();
        (await _t.Service.Services.GetRequiredService<WebhookInbox>().GetAsync(id))!.Outcome.Should().Be("pong");
    }

    [Test]
    public async Task Intake_PayloadMissingFields_IsKeptAndRejectedWithTheReason()
    {
        var id = Guid.NewGuid().ToString();
        var response = await _http.SendAsync(Delivery("pull_request", """{"action":"opened","repository":{"full_name":"acme/widgets"}}""", id: id));
        response.StatusCode.Should().Be(HttpStatusCode.Accepted);
        await _t.SettleDeliveriesAsync();
        var stored = await _t.Service.Services.GetRequiredService<WebhookInbox>().GetAsync(id);
        stored!.Outcome.Should().Be("rejected");
        stored.Error.Should().Be("missing object 'pull_request'");
        stored.Payload.Should().Contain("\"opened\"");
    }

    [Test]
    public async Task Healthz_And_Metrics_Answer()
    {
        (await _http.GetAsync("healthz")).StatusCode.Should().Be(HttpStatusCode.OK);
        (await _http.SendAsync(Delivery("ping", "{}"))).StatusCode.Should().Be(HttpStatusCode.Accepted);
        var metrics = await _http.GetStringAsync("metrics");
        metrics.Should().Contain("mergequeue_webhook_deliveries_total{event=\"ping\",outcome=\"accepted\"}");
    }

    [Test]
    public async Task Metrics_Labels_AreAFixedSet_NeverTheSendersTextOrAnOutcomesMessage()
    {
        // An event nobody handles, named by the sender, and an outcome with a message ("ignored: …").
        (await _http.SendAsync(Delivery("made-up-event-by-bob", """{"repository":{"full_name":"acme/widgets"}}"""))).StatusCode.Should().Be(HttpStatusCode.Accepted);
        (await _http.SendAsync(Delivery("pull_request", """{"action":"assigned","number":1,"pull_request":{"number":1},"repository":{"full_name":"acme/widgets"}}"""))).StatusCode.Should().Be(HttpStatusCode.Accepted);
        await _t.SettleDeliveriesAsync();

        var metrics = await _http.GetStringAsync("metrics");
        var labels = System.Text.RegularExpressions.Regex.Matches(metrics, "mergequeue_webhook_deliveries_total\\{event=\"([^\"]*)\",outcome=\"([^\"]*)\"\\}")
            .Select(m => (Event: m.Groups[1].Value, Outcome: m.Groups[2].Value)).ToList();
        labels.Should().Contain(("other", "accepted"));
        labels.Select(l => l.Event).Should().OnlyContain(e => e == "other" || !e.Contains('-'));
        labels.Select(l => l.Outcome).Should().OnlyContain(o => new[] { "accepted", "duplicate", "handled", "ignored", "refused", "rejected", "failed", "retried", "dead" }.Contains(o));
    }
}
