namespace MergeQueue.Core.Commands;

/// <summary>A command addressed to the bot in a pull request comment (CONTRACT §4).</summary>
public abstract record Command
{
    /// <summary><c>merge [p=N] [branch=B]</c>, aliases <c>r+</c> and <c>:+1:</c>.</summary>
    public sealed record Merge(int? Priority, string? Branch) : Command;
    /// <summary><c>cancel</c>, aliases <c>r-</c> and <c>:-1:</c>.</summary>
    public sealed record Cancel : Command;
    public sealed record Try : Command;
    public sealed record Retry : Command;
    /// <summary><c>freeze [reason]</c>, alias <c>treeclosed</c>.</summary>
    public sealed record Freeze(string? Reason) : Command;
    /// <summary><c>unfreeze</c>, alias <c>treeopen</c>.</summary>
    public sealed record Unfreeze : Command;
    /// <summary>Addressed to the bot but not understood: refused with a reason, nothing changes.</summary>
    public sealed record Invalid(string Text, string Reason) : Command;

    /// <summary>The permission GitHub must grant the commenter (CONTRACT §4).</summary>
    public Ports.Permission RequiredPermission => this switch
    {
        Freeze or Unfreeze => Ports.Permission.Admin,
        _ => Ports.Permission.Write,
    };
}
