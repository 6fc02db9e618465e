# Multi-stage build of the service: the SDK image publishes, the ASP.NET image runs.
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
# The dashboard's build fetches htmx with npm (src/MergeQueue.Service/package.json).
RUN apt-get update && apt-get install -y --no-install-recommends nodejs npm && rm -rf /var/lib/apt/lists/*
COPY . .
RUN dotnet publish src/MergeQueue.Service -c Release -o /app --nologo

FROM mcr.microsoft.com/dotnet/aspnet:10.0
WORKDIR /data
COPY --from=build /app /app
# Inside a container the service must listen on every interface; the database lives on the volume.
ENV Urls=http://0.0.0.0:8080 \
    ConnectionStrings__MergeQueue="Data Source=/data/mergequeue.db"
EXPOSE 8080
VOLUME /data
ENTRYPOINT ["dotnet", "/app/MergeQueue.Service.dll"]
