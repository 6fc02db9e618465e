using MergeQueue.GitHub;
using Microsoft.Extensions.Options;

namespace MergeQueue.Service.Setup;

/// <summary>
/// The GitHub adapter the service talks through, swappable at runtime: null while the service is in
/// setup mode (no GitHub credentials at all), replaced when <c>/setup</c> has stored a new App's
/// settings. Everything reaches GitHub through <see cref="Current"/> (the <c>IGitHub</c> port asks for
/// it at every call), so a swap needs no restart.
/// </summary>
public sealed class GitHubConnection(IOptionsMonitor<ServiceOptions> options, Func<ServiceOptions.GitHubOptions, OctokitGitHub> connect)
{
    private readonly Lock _sync = new();
    private OctokitGitHub? _current;
    private bool _connected;

    /// <summary>No token, no App id, no key: the service starts in setup mode instead of refusing to start.</summary>
    public static bool HasNoCredentials(ServiceOptions.GitHubOptions github) =>
        string.IsNullOrWhiteSpace(github.Token) && string.IsNullOrWhiteSpace(github.AppId) && string.IsNullOrWhiteSpace(github.PrivateKeyPath);

    /// <summary>The adapter for the current settings; null in setup mode.</summary>
    public OctokitGitHub? Current
    {
        get
        {
            lock (_sync)
            {
                if (!_connected)
                {
                    var github = options.CurrentValue.GitHub;
                    _current = HasNoCredentials(github) ? null : connect(github);
                    _connected = true;
                }
                return _current;
            }
        }
    }

    public bool IsConfigured => Current is not null;

    /// <summary>The adapter, or the error every GitHub call meets in setup mode.</summary>
    public OctokitGitHub Required => Current ?? throw new InvalidOperationException("MergeQueue is not set up: no GitHub credentials yet. Open /setup on the service to create its GitHub App.");

    /// <summary>Builds the adapter again from the settings as they are now (after /setup wrote new ones).</summary>
    public OctokitGitHub? Reconnect()
    {
        lock (_sync) _connected = false;
        return Current;
    }
}
