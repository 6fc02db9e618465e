using MergeQueue.Simulator.Git;

namespace MergeQueue.Simulator.Engine;

/// <summary>A repository's GitHub-side model together with its bare git repository.</summary>
public sealed class RepoHandle(SimRepository model, GitRepository git)
{
    public SimRepository Model { get; } = model;
    public GitRepository Git { get; } = git;
    public string FullName => Model.FullName;
}
