namespace MergeQueue.Core.Flows;

/// <summary>The answer to a request from a person (a command or an API call): accepted, or refused with why.</summary>
public sealed record FlowResult(bool Accepted, string Message)
{
    public static FlowResult Ok(string message) => new(true, message);
    public static FlowResult Refused(string reason) => new(false, reason);
}

/// <summary>The merge command's arguments.</summary>
public sealed record MergeRequest(string Actor, int? Priority = null, string? Branch = null)
{
    /// <summary>The commit an approval approved (<c>queue_on_approval</c>): the request is for it and no other head.</summary>
    public CommitSha? Head { get; init; }
    /// <summary>When the command's comment was written: a head pushed after it is not the one the command was for.</summary>
    public DateTimeOffset? WrittenAt { get; init; }
}
