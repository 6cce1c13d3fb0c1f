from django.urls import path

from registry import views

urlpatterns = [
    path("", views.home, name="home"),
]
