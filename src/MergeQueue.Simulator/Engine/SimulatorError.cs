using System.Text.Json.Nodes;

namespace MergeQueue.Simulator.Engine;

/// <summary>
/// A request GitHub would refuse, with the status code and message GitHub answers. Thrown by the
/// engine and the endpoints; the API middleware turns it into GitHub's error body, the control
/// API into the same shape.
/// </summary>
public sealed class SimulatorError(int status, string message, JsonArray? errors = null, string? documentationUrl = null) : Exception(message)
{
    public int Status { get; } = status;
    public JsonArray? Errors { get; } = errors;
    public string DocumentationUrl { get; } = documentationUrl ?? "https://docs.github.com/rest";

    public static SimulatorError NotFound() => new(404, "Not Found");

    /// <summary>422 with GitHub's errors array, e.g. resource "Status", field "description", code "custom".</summary>
    public static SimulatorError Validation(string message, string? resource = null, string? field = null, string code = "invalid") =>
        new(422, message, resource is null ? null : new JsonArray(new JsonObject { ["resource"] = resource, ["field"] = field, ["code"] = code, ["message"] = message }));

    public static SimulatorError Forbidden(string message = "Resource not accessible by integration") => new(403, message);

    public JsonObject ToJson()
    {
        var body = new JsonObject { ["message"] = Message };
        if (Errors is not null) body["errors"] = Errors.DeepClone();
        body["documentation_url"] = DocumentationUrl;
        body["status"] = Status.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return body;
    }
}
