using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using MergeQueue.Simulator.Engine;

namespace MergeQueue.Simulator.Api;

/// <summary>Reading requests and writing answers the way GitHub does (its error messages for bad input).</summary>
internal static class ApiRequest
{
    public static SimUser User(this HttpContext ctx) => (SimUser)ctx.Items[ApiMiddleware.UserKey]!;

    public static IResult Json(JsonNode node, int status = 200) =>
        Results.Text(node.ToJsonString(), "application/json; charset=utf-8", statusCode: status);

    /// <summary>The body as JSON; an empty body is an empty object. Unparsable JSON: 400 "Problems parsing JSON".</summary>
    public static async Task<JsonNode?> ReadNodeAsync(HttpContext ctx)
    {
        using var reader = new StreamReader(ctx.Request.Body);
        var text = await reader.ReadToEndAsync(ctx.RequestAborted);
        if (string.IsNullOrWhiteSpace(text)) return new JsonObject();
        try
        {
            return JsonNode.Parse(text);
        }
        catch (JsonException)
        {
            throw new SimulatorError(400, "Problems parsing JSON");
        }
    }

    public static async Task<JsonObject> ReadObjectAsync(HttpContext ctx) =>
        await ReadNodeAsync(ctx) as JsonObject ?? throw new SimulatorError(400, "Problems parsing JSON");

    /// <summary>A string member; GitHub's 422 when required and missing, or of another JSON type.</summary>
    public static string? Str(this JsonObject o, string name, bool required = false)
    {
        var node = o[name];
        if (node is null)
        {
            if (required) throw Missing(name);
            return null;
        }
        if (node is JsonValue v && v.TryGetValue<string>(out var s)) return s;
        throw new SimulatorError(422, $"Invalid request.\n\nFor 'properties/{name}', {node.ToJsonString()} is not a string.");
    }

    public static bool? Bool(this JsonObject o, string name)
    {
        var node = o[name];
        if (node is null) return null;
        if (node is JsonValue v && v.TryGetValue<bool>(out var b)) return b;
        throw new SimulatorError(422, $"Invalid request.\n\nFor 'properties/{name}', {node.ToJsonString()} is not a boolean.");
    }

    public static DateTimeOffset? Date(this JsonObject o, string name)
    {
        var s = o.Str(name);
        if (s is null) return null;
        return DateTimeOffset.TryParse(s, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var d)
            ? d
            : throw new SimulatorError(422, $"Invalid request.\n\nFor 'properties/{name}', \"{s}\" is not a date-time.");
    }

    /// <summary>An array of strings (or of objects with a name, as the labels API also accepts).</summary>
    public static List<string>? Strings(JsonNode? node, string name)
    {
        if (node is null) return null;
        if (node is not JsonArray array) throw new SimulatorError(422, $"Invalid request.\n\nFor 'properties/{name}', {node.ToJsonString()} is not an array.");
        var list = new List<string>();
        foreach (var item in array)
        {
            if (item is JsonValue v && v.TryGetValue<string>(out var s)) list.Add(s);
            else if (item is JsonObject obj && obj.Str("name") is { } n) list.Add(n);
            else throw new SimulatorError(422, $"Invalid request.\n\nFor 'items', {item?.ToJsonString() ?? "null"} is not a string.");
        }
        return list;
    }

    public static SimulatorError Missing(string name) =>
        new(422, $"Invalid request.\n\n\"{name}\" wasn't supplied.");

    /// <summary>A numeric path segment; anything else is GitHub's 404.</summary>
    public static int Number(string value) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : throw SimulatorError.NotFound();

    public static long Id(string value) =>
        long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : throw SimulatorError.NotFound();

    /// <summary>GitHub's page/per_page pagination with a Link header (Octokit follows rel="next").</summary>
    /// <summary>GitHub lists at most this many commits of a pull request, and of a compare without paging.</summary>
    public const int PullCommitsLimit = 250;

    public static IResult Paged(HttpContext ctx, IReadOnlyList<JsonNode> items)
    {
        var q = ctx.Request.Query;
        var perPage = int.TryParse(q["per_page"], out var pp) ? Math.Clamp(pp, 1, 100) : 30;
        var page = int.TryParse(q["page"], out var p) ? Math.Max(1, p) : 1;
        var slice = items.Skip((page - 1) * perPage).Take(perPage).Select(i => i.DeepClone()).ToArray();
        if (page * perPage < items.Count)
        {
            var url = $"{ctx.Request.Scheme}://{ctx.Request.Host}{ctx.Request.PathBase}{ctx.Request.Path}";
            var last = (items.Count + perPage - 1) / perPage;
            var others = string.Join("&", q.Where(kv => kv.Key is not ("page" or "per_page")).Select(kv => $"{kv.Key}={Uri.EscapeDataString(kv.Value.ToString())}"));
            string Link(int n, string rel) => $"<{url}?{(others.Length > 0 ? others + "&" : "")}per_page={perPage}&page={n}>; rel=\"{rel}\"";
            ctx.Response.Headers.Link = Link(page + 1, "next") + ", " + Link(last, "last");
        }
        return Json(new JsonArray(slice));
    }
}
