using MergeQueue.Core.Runner;

namespace MergeQueue.Core.Tests.Runner;

/// <summary>What one try of a runner job comes to (seed 001's network-error re-runs), as a decision table.</summary>
public class TryOutcomeTests
{
    private static readonly JobSpec Spec = new("sh ./test.sh", TimeSpan.FromMinutes(2), new Dictionary<string, string>(), FlakyRetries: 1,
        FlakyPatterns: ["network error", "ECONNRESET"]);

    [TestCase(1, 0, false, "ok", "Success", "passed in 3s")]
    [TestCase(1, 1, false, "assertion failed", "Failure", "failed (exit 1)")]
    [TestCase(1, 1, false, "curl: Network Error while fetching", "Retry", "network error")]
    [TestCase(1, 7, false, "read ECONNRESET", "Retry", "ECONNRESET")]
    [TestCase(2, 1, false, "network error again", "Failure", "failed (exit 1) after 2 tries")]
    [TestCase(2, 0, false, "ok", "Success", "passed in 3s")]
    [TestCase(1, 137, true, "network error", "Failure", "timed out after 2m")]
    public void Decide_Table(int tryNumber, int exitCode, bool timedOut, string log, string outcome, string text)
    {
        var result = TryOutcome.Decide(Spec, tryNumber, exitCode, timedOut, TimeSpan.FromSeconds(3), ["first line", log]);
        switch (result)
        {
            case TryOutcome.Retry retry:
                outcome.Should().Be("Retry");
                retry.Pattern.Should().Be(text);
                break;
            case TryOutcome.Final final:
                final.State.ToString().Should().Be(outcome);
                final.Description.Should().Be(text);
                break;
        }
    }

    [Test]
    public void Decide_NoFlakyRetries_FailsAtOnce() =>
        TryOutcome.Decide(Spec with { FlakyRetries = 0 }, 1, 1, false, TimeSpan.FromSeconds(1), ["network error"])
            .Should().Be(new TryOutcome.Final(JobState.Failure, "failed (exit 1)"));

    [Test]
    public void Decide_FinalFailure_NeverRepeatsAFlakyPattern()
    {
        // The Test flow rebuilds a staging commit whose failing check's description matches a flaky pattern:
        // the runner's own verdict after its retries must not invite a second round.
        var final = (TryOutcome.Final)TryOutcome.Decide(Spec, 2, 1, false, TimeSpan.FromSeconds(1), ["network error"]);
        Spec.FlakyPatterns.Should().NotContain(p => final.Description.Contains(p, StringComparison.OrdinalIgnoreCase));
    }
}
