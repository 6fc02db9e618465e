using OpenQA.Selenium;
using OpenQA.Selenium.Chrome;

namespace MergeQueue.EndToEnd.Tests.Dashboard;

/// <summary>
/// Headless Chromium driven through Debian's /usr/bin/chromedriver (scripts/test.sh installs
/// <c>chromium chromium-driver</c>), with a fresh profile; screenshots go to the test's results.
/// </summary>
public sealed class Browser : IDisposable
{
    private readonly string _profile = Path.Combine(Path.GetTempPath(), "mq-chromium-" + Guid.NewGuid().ToString("N")[..10]);
    private readonly string _shots;

    private Browser(string shots)
    {
        _shots = shots;
        Directory.CreateDirectory(_profile);
        var options = new ChromeOptions { BinaryLocation = "/usr/bin/chromium" };
        options.AddArguments("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
            "--window-size=1280,1000", $"--user-data-dir={_profile}");
        // Console messages, for ConsoleErrors.
        options.SetLoggingPreference(LogType.Browser, LogLevel.All);
        var service = ChromeDriverService.CreateDefaultService("/usr/bin", "chromedriver");
        service.SuppressInitialDiagnosticInformation = true;
        service.HideCommandPromptWindow = true;
        Driver = new ChromeDriver(service, options, TimeSpan.FromSeconds(60));
    }

    public ChromeDriver Driver { get; }

    public static bool Available => File.Exists("/usr/bin/chromium") && File.Exists("/usr/bin/chromedriver");

    public static Browser Start()
    {
        var shots = Path.Combine(TestContext.CurrentContext.WorkDirectory, "dashboard-screenshots");
        Directory.CreateDirectory(shots);
        return new Browser(shots);
    }

    public void GoTo(Uri url) => Driver.Navigate().GoToUrl(url);

    /// <summary>The console's errors (failed scripts, resources, exceptions) since the last call.</summary>
    public IReadOnlyList<string> ConsoleErrors() =>
        Driver.Manage().Logs.GetLog(LogType.Browser).Where(e => e.Level >= LogLevel.Severe).Select(e => e.Message).ToList();

    public IWebElement Find(string css) => Driver.FindElement(By.CssSelector(css));

    public IReadOnlyList<IWebElement> FindAll(string css) => Driver.FindElements(By.CssSelector(css));

    public object? Script(string js) => Driver.ExecuteScript(js);

    /// <summary>Waits for a condition on the open page, polling; fails with <paramref name="what"/> when it does not come.</summary>
    public async Task WaitForAsync(Func<bool> condition, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(20));
        while (true)
        {
            try
            {
                if (condition()) return;
            }
            catch (WebDriverException)
            {
                // the element was swapped out under us by htmx: look again
            }
            if (DateTime.UtcNow > deadline) Assert.Fail($"Timed out waiting for {what} on {Driver.Url}");
            await Task.Delay(200);
        }
    }

    /// <summary>Saves the whole page as PNG with the test's results (and to MQ_SCREENSHOTS_DIR when set, for docs/images).</summary>
    public string Screenshot(string name)
    {
        // Emulate a viewport as tall as the page so the picture shows all of it.
        var height = Convert.ToInt64(Script("return Math.min(document.documentElement.scrollHeight, 4000);"), System.Globalization.CultureInfo.InvariantCulture);
        Driver.ExecuteCdpCommand("Emulation.setDeviceMetricsOverride", new Dictionary<string, object?>
        {
            ["width"] = 1280,
            ["height"] = Math.Max(600, height),
            ["deviceScaleFactor"] = 1,
            ["mobile"] = false,
        });
        var path = Path.Combine(_shots, name + ".png");
        Driver.GetScreenshot().SaveAsFile(path);
        TestContext.AddTestAttachment(path, name);
        if (Environment.GetEnvironmentVariable("MQ_SCREENSHOTS_DIR") is { Length: > 0 } docs)
        {
            Directory.CreateDirectory(docs);
            File.Copy(path, Path.Combine(docs, $"dashboard-{name}.png"), overwrite: true);
        }
        Driver.ExecuteCdpCommand("Emulation.clearDeviceMetricsOverride", new Dictionary<string, object?>());
        return path;
    }

    public void Dispose()
    {
        Driver.Quit();
        Driver.Dispose();
        try
        {
            Directory.Delete(_profile, recursive: true);
        }
        catch (IOException)
        {
            // Chromium may still hold a lock file for a moment
        }
    }
}
