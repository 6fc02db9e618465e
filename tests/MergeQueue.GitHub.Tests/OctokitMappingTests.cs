using MergeQueue.Core.Ports;
using CorePermission = MergeQueue.Core.Ports.Permission;

namespace MergeQueue.GitHub.Tests;

public sealed class OctokitMappingTests
{
    [TestCase("queued", null, CheckState.Pending)]
    [TestCase("in_progress", null, CheckState.Pending)]
    [TestCase("waiting", null, CheckState.Pending)]
    [TestCase("requested", null, CheckState.Pending)]
    [TestCase("completed", "success", CheckState.Success)]
    [TestCase("completed", "neutral", CheckState.Success)]
    [TestCase("completed", "skipped", CheckState.Success)]
    [TestCase("completed", "failure", CheckState.Failure)]
    [TestCase("completed", "cancelled", CheckState.Failure)]
    [TestCase("completed", "timed_out", CheckState.Failure)]
    [TestCase("completed", "action_required", CheckState.Failure)]
    [TestCase("completed", "stale", CheckState.Failure)]
    [TestCase("completed", "some_future_conclusion", CheckState.Failure)]
    public void CheckRun_StatusAndConclusion_MapToCheckState(string status, string? conclusion, CheckState expected) =>
        OctokitMapping.CheckRunState(status, conclusion).Should().Be(expected);

    [TestCase("success", CheckState.Success)]
    [TestCase("pending", CheckState.Pending)]
    [TestCase("failure", CheckState.Failure)]
    [TestCase("error", CheckState.Failure)]
    public void CommitStatus_MapsToCheckState(string state, CheckState expected) =>
        OctokitMapping.StatusState(state).Should().Be(expected);

    [TestCase("maintain", "write", CorePermission.Maintain)]
    [TestCase("triage", "read", CorePermission.Triage)]
    [TestCase("admin", "admin", CorePermission.Admin)]
    [TestCase("custom-release-manager", "write", CorePermission.Write)]
    [TestCase(null, "read", CorePermission.Read)]
    [TestCase(null, "none", CorePermission.None)]
    [TestCase(null, null, CorePermission.None)]
    public void Permission_PrefersRoleName_FallsBackToLegacyPermission(string? roleName, string? permission, CorePermission expected) =>
        OctokitMapping.Permission(roleName, permission).Should().Be(expected);

    [Test]
    public void StatusDescription_Within140_IsUnchanged() =>
        OctokitMapping.StatusDescription(new string('a', 140)).Should().Be(new string('a', 140));

    [Test]
    public void StatusDescription_Over140_IsCutWithAnEllipsis_NeverSplittingASurrogatePair()
    {
        var cut = OctokitMapping.StatusDescription(new string('a', 138) + "😀" + "tail");

        cut.Length.Should().BeLessThanOrEqualTo(140);
        cut.Should().EndWith("…");
        char.IsHighSurrogate(cut[^2]).Should().BeFalse();
    }
}
